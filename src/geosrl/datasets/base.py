"""Task container and errors shared by the offline suite and the LocBench loaders.

Every loader returns a :class:`TaskData` whose ``lonlat`` is a ``(N, 2)`` float64 array of
``(lon, lat)`` degrees that passed :func:`geosrl.coords.validate_lonlat`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "TASK_KINDS",
    "DataUnavailableError",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "TaskData",
]

TASK_KINDS = ("classification", "regression", "presence_only")


class DataUnavailableError(ValueError):
    """A task's data cannot be read: its package is missing or a file inside it is absent.

    Attributes:
        task: name of the task or dataset.
        reason: what is missing, in words.
        install_hint: the command (or download step) that fixes it.
    """

    def __init__(self, task: str, reason: str, install_hint: str = "") -> None:
        self.task = task
        self.reason = reason
        self.install_hint = install_hint
        msg = f"data for task {task!r} unavailable: {reason}"
        if install_hint:
            msg += f"; fix: {install_hint}"
        super().__init__(msg)

    def __reduce__(self):  # keep attributes across processes (pickling for --workers)
        return (type(self), (self.task, self.reason, self.install_hint))


class DatasetNotFoundError(DataUnavailableError, FileNotFoundError):
    """A LocBench dataset file is absent under ``root``.

    The message names the missing file, the file to download and the folder to put it in.
    It is also a :class:`DataUnavailableError` (so a runner can skip it the same way) and a
    :class:`FileNotFoundError`. ``missing`` holds the path that was looked for.
    """

    def __init__(self, task: str, reason: str, install_hint: str = "", missing: str = "") -> None:
        self.missing = missing
        DataUnavailableError.__init__(self, task, reason, install_hint)

    def __reduce__(self):
        return (type(self), (self.task, self.reason, self.install_hint, self.missing))

    def __str__(self) -> str:  # FileNotFoundError would otherwise format (errno, strerror)
        return self.args[0] if self.args else ""


class DatasetFormatError(ValueError):
    """A data file exists but does not hold what its published format says (damaged, truncated, edited).

    The message names the file, the place in it (``line`` for text files; ``where`` for other places,
    e.g. a JSON entry or a binary header), what is wrong and how to fix it. Unlike
    :class:`DataUnavailableError` it is not a reason to skip a task quietly: the data are there but unusable.

    Attributes:
        file: path of the offending file.
        problem: what is wrong, in words.
        fix: what to do about it.
        line: 1-based line number in ``file`` (text files), or ``None``.
        where: another locator (``"entry train[3]"``, ``"header"``), or ``""``.
    """

    def __init__(self, file: str, problem: str, fix: str = "", line: int | None = None, where: str = "") -> None:
        self.file = str(file)
        self.problem = problem
        self.fix = fix
        self.line = line
        self.where = where
        place = self.file
        if line is not None:
            place += f", line {line}"
        if where:
            place += f" ({where})"
        msg = f"{place}: {problem}"
        if fix:
            msg += f"; fix: {fix}"
        super().__init__(msg)

    def __reduce__(self):  # keep attributes across processes
        return (type(self), (self.file, self.problem, self.fix, self.line, self.where))


@dataclass
class TaskData:
    """One benchmark task: locations, targets and optional side inputs.

    Attributes:
        name: task name, e.g. ``"land_ocean"``.
        kind: ``"classification"``, ``"regression"`` or ``"presence_only"``.
        lonlat: ``(N, 2)`` float64, ``(lon, lat)`` degrees, validated (LocBench evaluation splits
            loaded with ``keep_missing_location=True`` may hold NaN rows, see that loader).
        target: ``(N,)`` int64 class ids in ``[0, num_classes)`` (classification), float64
            (regression), or int64 1 = presence / 0 = background (presence_only).
        num_classes: number of classes (classification), else ``None``.
        class_names: ``num_classes`` names, index = class id.
        target_name: human-readable target with units, e.g. ``"elevation (m)"``.
        images: ``(N, 3, H, W)`` uint8 image patches, or ``None``.
        image_features: ``(N, F)`` float32 precomputed image inputs, or ``None``.
        background_lonlat: ``(M, 2)`` float64 background points (presence_only), or ``None``.
        metadata: JSON-serialisable dict: source, licence, units, package versions, counts.
    """

    name: str
    kind: str
    lonlat: np.ndarray
    target: np.ndarray
    num_classes: int | None = None
    class_names: list[str] | None = None
    target_name: str = ""
    images: np.ndarray | None = None
    image_features: np.ndarray | None = None
    background_lonlat: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"kind must be one of {TASK_KINDS}, got {self.kind!r}")
        n = len(self.lonlat)
        if self.lonlat.ndim != 2 or self.lonlat.shape[1] != 2:
            raise ValueError(f"lonlat must have shape (N, 2), got {self.lonlat.shape}")
        if self.target.shape != (n,):
            raise ValueError(f"target must have shape ({n},), got {self.target.shape}")
        if self.kind == "classification":
            if self.num_classes is None:
                raise ValueError("classification TaskData needs num_classes")
            if n and (self.target.min() < 0 or self.target.max() >= self.num_classes):
                raise ValueError("class ids must lie in [0, num_classes)")
            if self.class_names is not None and len(self.class_names) != self.num_classes:
                raise ValueError("class_names must have num_classes entries")
        for attr in ("images", "image_features"):
            arr = getattr(self, attr)
            if arr is not None and len(arr) != n:
                raise ValueError(f"{attr} must have N={n} rows, got {len(arr)}")
        if self.images is not None and (self.images.ndim != 4 or self.images.shape[1] != 3):
            raise ValueError(f"images must have shape (N, 3, H, W), got {self.images.shape}")

    def __len__(self) -> int:
        return len(self.lonlat)

    def subset(self, index: np.ndarray) -> "TaskData":
        """Rows ``index`` (int array or bool mask) of every per-sample array; the rest is shared."""
        index = np.asarray(index)
        return TaskData(
            name=self.name,
            kind=self.kind,
            lonlat=self.lonlat[index],
            target=self.target[index],
            num_classes=self.num_classes,
            class_names=self.class_names,
            target_name=self.target_name,
            images=None if self.images is None else self.images[index],
            image_features=None if self.image_features is None else self.image_features[index],
            background_lonlat=self.background_lonlat,
            metadata=dict(self.metadata),
        )


def north_first_index(lonlat: np.ndarray, nrows: int, ncols: int) -> tuple[np.ndarray, np.ndarray]:
    """Row/column of the cell holding each point in a global north-first grid.

    The grid covers lat 90 → -90 over ``nrows`` rows and lon -180 → 180 over ``ncols``
    columns (row 0 = northernmost band, column 0 = 180° W). Index by truncation,
    ``row = ⌊(90 - lat)·nrows/180⌋``, ``col = ⌊(lon + 180)·ncols/360⌋``, clipped to the grid,
    so lat = -90 falls in the last row and lon = 180 in the last column.

    Args:
        lonlat: ``(N, 2)`` degrees.
    Returns:
        ``(rows, cols)``, each ``(N,)`` int64.
    """
    lonlat = np.asarray(lonlat, dtype=np.float64)
    rows = np.floor((90.0 - lonlat[:, 1]) * (nrows / 180.0)).astype(np.int64)
    cols = np.floor((lonlat[:, 0] + 180.0) * (ncols / 360.0)).astype(np.int64)
    return np.clip(rows, 0, nrows - 1), np.clip(cols, 0, ncols - 1)
