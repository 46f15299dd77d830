"""One disk cache for computed results: sweep tables, training runs, Kac-Rice tables.

A cache is a directory with one file per entry. An entry is found by its *key*: 32 hex digits of
the SHA-256 of a JSON *description* of what was computed, which always holds the fpkit version and
the :func:`~fpkit._provenance.code_hash` of the import closure of the computation's entry point
(:attr:`DiskCache.CODE_ENTRY`), so a change to any module the computation can run makes new keys.

Every file is written atomically through ``fpkit._io.write_atomic`` (permissions from the
umask, never a half-written file under an entry's name) and holds its key, its description, the
versions of the libraries that computed it and a SHA-256 checksum of its content. :meth:`DiskCache.load`
returns an entry only if the file is

* intact: it parses, and its checksum matches (a truncated or bit-flipped file fails);
* the entry asked for: its stored key is the key asked for, and its stored description hashes to
  that key (and equals the description asked for, where one is given);
* from the same library versions (:attr:`DiskCache.LIBRARIES`);
* sensible for its key (:meth:`DiskCache.validate`: rows, columns, shapes and required fields against
  the description), so a file forged with a valid checksum but two of six rows, a column that
  contradicts the key, all-NaN counts or weights of the wrong shape is not trusted.

Any other file is reported with a warning that names it and counts as absent: the entry is
recomputed and the file replaced. Nothing in a file can run code (JSON and ``.npz`` read without
pickle).

Opening a cache checks, before any work, that its directory takes data (a file is written and
synced: a full disk fails), and removes the temporary files of writes that were killed
(``fpkit._io.remove_stale_temp_files``). :meth:`DiskCache.check_space` checks the free space
for a known amount of output. A write that fails later (the disk filled up meanwhile) warns, naming
the file, and the computed value is kept: :meth:`DiskCache.store_or_warn`.

Two processes never compute one entry twice: :meth:`DiskCache.fetch` computes an entry under the
key's lock (``<prefix><key>.lock``, an ``flock`` that dies with its process) after reading the
cache once more; :meth:`DiskCache.try_lock` lets a caller with other work do that first.

Codecs: :class:`TableCache` stores a :class:`pandas.DataFrame` as JSON columns behind a magic line
and a checksum (floats in their shortest exact repr: a table reads back bit for bit);
:class:`ArrayCache` stores an :class:`ArrayRecord` (named NumPy arrays and JSON fields) as ``.npz``.
A cache of a kind of result is a subclass that names its files, its code entry point and its
:meth:`~DiskCache.validate`.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._io import check_free_space, check_writable, remove_stale_temp_files, try_lock, wait_lock, write_atomic
from ._provenance import __version__, code_hash, library_versions

__all__ = ["ArrayCache", "ArrayRecord", "DiskCache", "TableCache", "check_arrays", "check_fields", "check_table",
           "describe"]


def describe(description: Mapping[str, Any]) -> tuple[str, str]:
    """``(key, desc)``: the canonical JSON text of ``description`` and the first 32 hex digits of its SHA-256.

    Values JSON cannot hold are written as their ``repr``. The text is canonical (sorted keys, and
    reading it back and writing it again gives the same text), so a stored description can be
    checked against its key.
    """
    if not isinstance(description, Mapping):
        raise TypeError(f"description must be a mapping; got {type(description).__name__}")
    text = json.dumps(json.loads(json.dumps(description, sort_keys=True, default=repr)), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32], text


# --------------------------------------------------------------------------- sense checks


def check_table(table, *, rows: int | None = None, columns: Iterable[str] = (),
                constants: Mapping[str, Any] | None = None, counts: Iterable[str] = ()) -> None:
    """Raise ValueError saying what is wrong unless ``table`` (a DataFrame) fits what its key promises.

    Parameters
    ----------
    rows : int, optional
        The number of rows.
    columns : iterable of str
        Columns that must be present.
    constants : mapping, optional
        Column -> the value every row must hold (None: missing values), for columns that are present.
    counts : iterable of str
        Columns that must hold finite non-negative whole numbers.
    """
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"a table was expected; got {type(table).__name__}")
    if rows is not None and len(table) != rows:
        raise ValueError(f"{len(table)} rows where the key asks for {rows}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"columns {missing} are missing")
    for name, value in (constants or {}).items():
        if name not in table.columns:
            continue
        col = table[name]
        ok = col.isna().all() if value is None else bool((col.notna() & (col == value)).all())
        if not ok:
            raise ValueError(f"column {name!r} holds {sorted(set(map(repr, col)))[:3]} where the key says {value!r}")
    for name in counts:
        values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)
        if not (np.isfinite(values).all() and (values >= 0).all() and (values == np.round(values)).all()):
            raise ValueError(f"column {name!r} is not a column of counts (NaN, negative or fractional values)")


def check_arrays(arrays: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]]) -> None:
    """Raise ValueError unless every array named in ``shapes`` is present with that shape (-1: any length)."""
    for name, shape in shapes.items():
        if name not in arrays:
            raise ValueError(f"array {name!r} is missing")
        got = np.shape(arrays[name])
        if len(got) != len(shape) or any(s != -1 and g != s for g, s in zip(got, shape)):
            raise ValueError(f"array {name!r} has shape {got} where the key asks for {tuple(shape)}")


def check_fields(fields: Mapping[str, Any], required: Mapping[str, type | tuple[type, ...]]) -> None:
    """Raise ValueError unless every field in ``required`` is present with one of the given types."""
    for name, types in required.items():
        types = types if isinstance(types, tuple) else (types,)
        if name not in fields:
            raise ValueError(f"field {name!r} is missing")
        value = fields[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ValueError(f"field {name!r} is {value!r}, not of type {' or '.join(t.__name__ for t in types)}")


# --------------------------------------------------------------------------- the base


class DiskCache:
    """A directory of entries, one file each; see the module doc.

    Subclasses set the class attributes and the codec (:meth:`encode`, :meth:`decode`) and may
    add a sense check (:meth:`validate`).

    Parameters
    ----------
    directory : path
        Created if needed; checked for writing, and cleaned of the temporary files of killed
        writes, here.
    what : str
        How messages name the directory (the argument it came from: ``"cache_dir"``).
    """

    #: How messages name an entry's kind ("sweep" -> "sweep cache file ...").
    KIND = "result"
    #: File names are ``PREFIX + key + SUFFIX``.
    PREFIX = ""
    SUFFIX = ".fpcache"
    #: Written into every file's header and checked on load.
    FORMAT = "fpkit cache"
    #: The module whose import closure's code hash is part of every key (without one, give ``code`` to :meth:`make_key`).
    CODE_ENTRY: str | None = None
    #: Distributions whose versions every file stores; a file from other versions is recomputed.
    LIBRARIES: tuple[str, ...] = ("numpy",)

    def __init__(self, directory: str | os.PathLike, *, what: str = "cache_dir"):
        if not isinstance(what, str):
            raise TypeError(f"what must be a str; got {type(what).__name__}")
        self.what = what
        self.directory = check_writable(directory, what)
        #: The temporary files of killed writes that opening the cache removed.
        self.removed_temp_files = remove_stale_temp_files(self.directory)

    # ------------------------------------------------------------------ keys

    @classmethod
    def code_hash(cls) -> str:
        """:func:`~fpkit._provenance.code_hash` of :attr:`CODE_ENTRY` (read from the source at each call)."""
        if cls.CODE_ENTRY is None:
            raise TypeError(f"{cls.__name__} names no CODE_ENTRY; give code= to make_key")
        return code_hash(cls.CODE_ENTRY)

    @classmethod
    def make_key(cls, description: Mapping[str, Any], code: str | None = None) -> tuple[str, str]:
        """``(key, desc)`` of ``description`` with the fpkit version and ``code`` (default :meth:`code_hash`)."""
        if not isinstance(description, Mapping):
            raise TypeError(f"description must be a mapping; got {type(description).__name__}")
        if code is not None and not isinstance(code, str):
            raise TypeError(f"code must be a str or None; got {type(code).__name__}")
        return describe({**description, "fpkit": __version__, "code": code or cls.code_hash()})

    @classmethod
    def versions(cls) -> dict[str, str]:
        """The versions of fpkit, Python and :attr:`LIBRARIES` (stored in every file, checked on load)."""
        return library_versions(cls.LIBRARIES)

    @staticmethod
    def _check_key(key: str) -> str:
        """32 lowercase hex digits (so a key can never name a file outside the cache)."""
        if not isinstance(key, str) or len(key) != 32 or any(ch not in "0123456789abcdef" for ch in key):
            raise ValueError(f"key must be 32 lowercase hex digits (from make_key); got {key!r:.60}")
        return key

    def path(self, key: str) -> Path:
        return self.directory / f"{self.PREFIX}{self._check_key(key)}{self.SUFFIX}"

    def lock_path(self, key: str) -> Path:
        return self.directory / f"{self.PREFIX}{self._check_key(key)}.lock"

    # ------------------------------------------------------------------ codec and sense (subclasses)

    def encode(self, header: dict[str, Any], value: Any) -> bytes:
        """The file's bytes for ``value`` with ``header`` (format, key, description, versions)."""
        raise NotImplementedError

    def decode(self, blob: bytes) -> tuple[dict[str, Any], Any]:
        """``(header, value)`` of a file's bytes; ValueError for a damaged or foreign file."""
        raise NotImplementedError

    def validate(self, value: Any, description: dict[str, Any]) -> Any:
        """What :meth:`load` gives for the decoded ``value``; ValueError if it makes no sense for its key.

        ``description`` is the key's description (read from the file, and checked to hash to the
        key). The default accepts every value as it is; subclasses check rows, columns, shapes and
        fields against the description and may build a richer object from the value.
        """
        return value

    # ------------------------------------------------------------------ load and store

    def load(self, key: str, desc: str | None = None, *, warn: bool = True) -> Any:
        """The entry ``key``, or None if absent.

        A file that is unreadable, damaged, stored under another key (``desc``, when given, must
        match the stored description too), written by other library versions or not sensible for
        its key counts as absent, with a warning naming it (unless ``warn=False``).
        """
        if desc is not None and not isinstance(desc, str):
            raise TypeError(f"desc must be the JSON description from make_key; got {type(desc).__name__}")
        if desc is not None:
            try:
                expected = json.loads(desc)
            except ValueError:
                raise ValueError("desc must be the JSON description from make_key") from None
        path = self.path(key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._reject(path, f"is unreadable ({exc.strerror or exc})", warn)
        try:
            header, value = self.decode(blob)
        except ValueError as exc:
            return self._reject(path, f"is damaged ({exc})", warn)
        description = header.get("description")
        if header.get("key") != key or not isinstance(description, dict) or describe(description)[0] != key \
                or (desc is not None and description != expected):
            return self._reject(path, "holds another configuration (its stored key does not match)", warn)
        if header.get("versions") != self.versions():
            return self._reject(path, f"was written by other library versions ({header.get('versions')}, "
                                      f"now {self.versions()})", warn)
        try:
            return self.validate(value, description)
        except (ValueError, TypeError, KeyError) as exc:
            return self._reject(path, f"does not fit its key ({type(exc).__name__}: {exc})", warn)

    def store(self, key: str, desc: str, value: Any) -> Path:
        """Write the entry atomically; OSError naming the file if it cannot be written."""
        self._check_key(key)
        try:
            description = json.loads(desc)
        except (TypeError, ValueError):
            raise ValueError("desc must be the JSON description from make_key") from None
        header = {"format": self.FORMAT, "key": key, "description": description, "versions": self.versions()}
        return write_atomic(self.path(key), self.encode(header, value))

    def store_or_warn(self, key: str, desc: str, value: Any) -> Path | None:
        """:meth:`store`; if the write fails (a full disk), warn naming the file and return None."""
        try:
            return self.store(key, desc, value)
        except OSError as exc:
            warnings.warn(f"could not write the {self.KIND} cache file {self.path(key)} ({exc}); the result is "
                          "kept in memory and a rerun will compute it again", UserWarning, stacklevel=2)
            return None

    def check_space(self, n_bytes: int) -> None:
        """OSError (ENOSPC) naming the directory if it has less than ``n_bytes`` free (checked before work)."""
        check_free_space(self.directory, n_bytes, self.what)

    # ------------------------------------------------------------------ locks

    def try_lock(self, key: str):
        """The lock of ``key`` (a ``fpkit._io.FileLock``) if no other process holds it, else None."""
        return try_lock(self.lock_path(key))

    def wait_lock(self, key: str):
        """The lock of ``key``, waiting for the process that holds it."""
        return wait_lock(self.lock_path(key))

    def fetch(self, key: str, desc: str, compute: Callable[[], Any]) -> Any:
        """The entry ``key``: read if stored, else ``compute()``-d and stored.

        The computation runs under the key's lock, after reading the cache once more, so a
        concurrent process that computes the same entry is waited for and its result read. A
        failed write warns (:meth:`store_or_warn`) and the computed value is returned.
        """
        value = self.load(key, desc)
        if value is not None:
            return value
        with self.wait_lock(key):
            value = self.load(key, desc, warn=False)
            if value is None:
                value = compute()
                self.store_or_warn(key, desc, value)
        return value

    def _reject(self, path: Path, why: str, warn: bool) -> None:
        if warn:
            warnings.warn(f"{self.KIND} cache file {path} {why}; recomputing it", UserWarning, stacklevel=3)
        return None


# --------------------------------------------------------------------------- tables


class TableCache(DiskCache):
    """Entries that are :class:`pandas.DataFrame` tables, stored as JSON.

    File layout: ``MAGIC`` (8 bytes), the SHA-256 of the body as 64 hex digits and a newline,
    then the body: UTF-8 JSON (as Python's ``json`` writes it, NaN included) with the header
    (``format``, ``format_version``, ``key``, ``description``, ``versions``), ``n_rows`` and the
    table as a list of columns (name, dtype, values). Floats are written with their shortest exact
    repr, so a table read back equals the one written bit for bit; reading parses JSON and builds
    arrays of a few plain dtypes.
    """

    KIND = "table"
    SUFFIX = ".fptable"
    MAGIC = b"FPKTAB1\n"
    FORMAT = "fpkit table cache"
    FORMAT_VERSION = 1
    LIBRARIES = ("numpy", "scipy", "pandas")
    #: Column dtypes a file may hold.
    DTYPES = ("int64", "int32", "float64", "bool", "object", "str", "string")

    def encode(self, header: dict[str, Any], value: Any) -> bytes:
        import pandas as pd

        if not isinstance(value, pd.DataFrame):
            raise TypeError(f"table must be a pandas DataFrame; got {type(value).__name__}")
        body = {**header, "format_version": self.FORMAT_VERSION, "n_rows": int(len(value)),
                "columns": self._encode_columns(value)}
        payload = json.dumps(body, allow_nan=True).encode("utf-8")
        return self.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload

    def decode(self, blob: bytes) -> tuple[dict[str, Any], Any]:
        head = len(self.MAGIC) + 65
        if blob[: len(self.MAGIC)] != self.MAGIC:
            raise ValueError(f"not a {self.KIND} cache file of format {self.FORMAT_VERSION}")
        if len(blob) < head or blob[head - 1:head] != b"\n":
            raise ValueError("truncated header")
        if hashlib.sha256(blob[head:]).hexdigest().encode() != blob[len(self.MAGIC):head - 1]:
            raise ValueError("checksum mismatch: truncated or corrupted")
        try:
            body = json.loads(blob[head:].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"unreadable JSON: {exc}") from None
        if not isinstance(body, dict) or body.get("format_version") != self.FORMAT_VERSION \
                or body.get("format") != self.FORMAT:
            raise ValueError("unknown format or format version")
        try:
            return body, self._decode_columns(body)
        except (TypeError, KeyError) as exc:
            raise ValueError(f"bad table: {exc}") from None

    def _decode_columns(self, body: dict):
        import pandas as pd

        columns, n = body["columns"], body["n_rows"]
        if not isinstance(columns, list) or not isinstance(n, int):
            raise TypeError("columns must be a list and n_rows an int")
        data = {}
        for col in columns:
            name, dtype, values = col["name"], col["dtype"], col["values"]
            if dtype not in self.DTYPES or not isinstance(values, list) or len(values) != n:
                raise ValueError(f"bad table: column {name!r}: dtype {dtype!r} or length != {n}")
            kinds = {"int64": (int,), "int32": (int,), "bool": (bool,), "float64": (int, float)}.get(dtype)
            if kinds and not all(type(x) in kinds for x in values):
                raise ValueError(f"bad table: column {name!r}: values that are not {dtype}")
            if not all(x is None or type(x) in (int, float, str, bool) for x in values):
                raise ValueError(f"bad table: column {name!r}: values that are not plain JSON scalars")
            if name in data:
                raise ValueError(f"bad table: column {name!r} twice")
            data[name] = pd.Series(values, dtype=dtype if dtype != "float64" else np.float64)
        return pd.DataFrame(data, index=pd.RangeIndex(n))

    @classmethod
    def _encode_columns(cls, table) -> list[dict]:
        import pandas as pd

        columns = []
        for name in table.columns:
            col = table[name]
            dtype = str(col.dtype)
            if dtype not in cls.DTYPES:
                raise TypeError(f"table column {name!r} has dtype {dtype}, which a {cls.KIND} cache file cannot hold")
            values = col.tolist()
            if dtype in ("object", "str", "string"):
                values = [None if (isinstance(x, float) and math.isnan(x)) or x is pd.NA else x for x in values]
                bad = [x for x in values if not (x is None or type(x) in (int, float, str, bool))]
                if bad:
                    raise TypeError(f"table column {name!r} holds {type(bad[0]).__name__} values")
            columns.append({"name": str(name), "dtype": dtype, "values": values})
        return columns


# --------------------------------------------------------------------------- arrays


@dataclass
class ArrayRecord:
    """An :class:`ArrayCache` entry: named NumPy arrays (no object dtype) and JSON-able fields."""

    arrays: dict[str, np.ndarray]
    fields: dict[str, Any] = field(default_factory=dict)


class ArrayCache(DiskCache):
    """Entries that are :class:`ArrayRecord` s, stored as ``.npz`` (never a pickle).

    The file holds the arrays, ``meta`` (UTF-8 JSON as uint8: the header, the fields and the
    arrays' names) and ``checksum``: the SHA-256 of ``meta`` and of every array's name, dtype,
    shape and bytes.
    """

    KIND = "array"
    SUFFIX = ".npz"
    FORMAT = "fpkit array cache/1"

    @staticmethod
    def _checksum(meta: np.ndarray, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        digest = hashlib.sha256(meta.tobytes())
        for name in sorted(arrays):
            a = np.ascontiguousarray(arrays[name])
            digest.update(f"{name}|{a.dtype.str}|{a.shape}".encode())
            digest.update(a.tobytes())
        return np.frombuffer(digest.digest(), dtype=np.uint8)

    def encode(self, header: dict[str, Any], value: Any) -> bytes:
        if not isinstance(value, ArrayRecord):
            raise TypeError(f"value must be an ArrayRecord; got {type(value).__name__}")
        arrays = {str(k): np.asarray(a) for k, a in value.arrays.items()}
        reserved = {"meta", "checksum"} & set(arrays)
        if reserved or any(a.dtype == object for a in arrays.values()):
            raise TypeError(f"arrays may not be named {sorted(reserved)} nor hold Python objects")
        meta = json.dumps({**header, "fields": value.fields, "arrays": sorted(arrays)}, sort_keys=True)
        meta_arr = np.frombuffer(meta.encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, meta=meta_arr, checksum=self._checksum(meta_arr, arrays), **arrays)
        return buf.getvalue()

    def decode(self, blob: bytes) -> tuple[dict[str, Any], Any]:
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                meta_arr, checksum = z["meta"], z["checksum"]
                meta = json.loads(meta_arr.tobytes().decode())
                arrays = {name: z[name] for name in meta["arrays"]}
        except Exception as exc:  # noqa: BLE001 - a damaged zip raises many kinds; never trusted
            raise ValueError(f"unreadable ({type(exc).__name__}: {exc})") from None
        if not np.array_equal(checksum, self._checksum(meta_arr, arrays)):
            raise ValueError("checksum mismatch: truncated or corrupted")
        if not isinstance(meta, dict) or meta.get("format") != self.FORMAT or not isinstance(meta.get("fields"), dict):
            raise ValueError(f"not a {self.KIND} cache file of format {self.FORMAT!r}")
        return meta, ArrayRecord(arrays, meta["fields"])
