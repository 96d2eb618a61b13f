"""neurovid: quality-control videos and a review page for structural MRI in BIDS datasets."""

__version__ = "0.1.0"
