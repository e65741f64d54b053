"""The Python snippets of the README and docs/guide/python.md run as written: each file's
```python blocks in order, in one namespace (as a notebook would), from a directory where
`configs/` and `data/` are the repository's (so `runs/` is written there, not in the clone)."""

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def blocks(path: Path):
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("page", ["README.md", "docs/guide/python.md"])
def test_the_snippets_run_as_written(page, tmp_path, monkeypatch):
    for name in ("configs", "data"):
        (tmp_path / name).symlink_to(REPO / name)
    monkeypatch.chdir(tmp_path)
    code = blocks(REPO / page)
    assert code, f"{page} has no python block"
    namespace = {}
    for i, block in enumerate(code):
        try:
            exec(compile(block, f"{page} block {i + 1}", "exec"), namespace)
        except Exception as e:  # name the block
            raise AssertionError(f"{page}, python block {i + 1} failed: {e!r}") from e
    assert (tmp_path / "runs" / "py" / "report.json").is_file()
