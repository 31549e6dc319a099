"""Write one entry of the local SKU table (`items.sku_to_item`) into the operator's mapping file.

The mapping file is written by people: it has comments, an order and a layout that must survive an
accepted SKU suggestion. ruamel.yaml's round-trip mode keeps them (PyYAML would drop every
comment). The write is safe against a crash and against a second operator at the same time: an
exclusive lock on a sidecar `.lock` file, the new text validated with the same loader a worker
uses at start-up, then written to a temporary file beside it and moved over the original.

The shipped defaults are part of the package and never written: without `mapping_file` there is
no local table to add to, and the caller says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from m3amazon.mapping import load_mappings
from m3amazon.mapping.tables import MappingError


class MappingFileError(ValueError):
    """The mapping file cannot take the entry; the message says why in plain words."""


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the operator's long lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def set_sku_item(path: Path, sku: str, item_number: str) -> str | None:
    """Map `sku` to `item_number` in `items.sku_to_item` of the file; returns the previous item, if any."""
    path = Path(path)
    if not path.is_file():
        raise MappingFileError(f"the mapping file {path} does not exist")
    with _locked(path):
        text = path.read_text(encoding="utf-8")
        yaml = _yaml()
        try:
            data = yaml.load(text)
        except Exception as exc:  # ruamel raises several error types; all mean "not YAML"
            raise MappingFileError(f"the mapping file {path} is not valid YAML: {exc}") from exc
        if data is None:
            data = CommentedMap()
        if not isinstance(data, CommentedMap):
            raise MappingFileError(f"the mapping file {path} must hold a mapping of tables")
        items = data.get("items")
        if items is None:
            items = data["items"] = CommentedMap()
        if not isinstance(items, CommentedMap):
            raise MappingFileError(f"`items` in {path} must be a mapping")
        table = items.get("sku_to_item")
        if table is None:
            table = items["sku_to_item"] = CommentedMap()
        if not isinstance(table, CommentedMap):
            raise MappingFileError(f"`items.sku_to_item` in {path} must be a mapping")
        table.fa.set_block_style()  # `sku_to_item: {}` becomes one line per SKU
        previous = table.get(sku)
        table[sku] = item_number
        out = io.StringIO()
        yaml.dump(data, out)
        _replace(path, out.getvalue())
    return None if previous is None else str(previous)


def _replace(path: Path, text: str) -> None:
    """Validate `text` as a mapping file, then put it in place atomically (same mode as before)."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            load_mappings(Path(temp))
        except MappingError as exc:
            raise MappingFileError(f"the entry would make {path} invalid: {exc}") from exc
        os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
