"""Write one benchmark's section into docs/benchmarks.md, leaving the other sections alone."""

from __future__ import annotations

from pathlib import Path

HEADER = (
    "# Benchmarks\n\n"
    "Every figure here is printed and written by a script in `benchmarks/`; `make bench` runs "
    "them all on this machine and rewrites their sections of this file. Goals come from the "
    "issues; each table says whether it is met.\n"
)


def write_section(path: Path, name: str, section: str) -> None:
    """Replace (or append) the text between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{section.strip()}\n{end}"
    text = path.read_text() if path.exists() else HEADER
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def cpu_model() -> str:
    """The processor's model name from /proc/cpuinfo (or what platform knows)."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"
