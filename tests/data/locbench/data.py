#!/usr/bin/env python3
"""Write a tiny LocBench root (TorchSpatial layout, figshare 10.6084/m9.figshare.26026798).

Folders: birdsnap/, nabirds/, inat_2017/, inat_2018/, yfcc/, fmow/, mosaiks/, sustainbench/.
Every format from benchmark.md §2–3, at toy size, with edge cases: lon ±180 and lat ±90, a null
and a NaN location, a null user, a NaN date, an invalid image (birds), a NaN label (SustainBench),
a null lon (iNat). Prediction rows encode their own row index so tests can check alignment:
``preds[i, 0] = i / 100`` (plus a one-hot of the class), ``net_feats[i, :] = i``.
"""

import csv
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE / "root"
NFEAT = 4  # stands in for 2048


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1))


def write_csv(path: Path, header, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def preds(labels, num_classes, sparse: bool):
    p = np.zeros((len(labels), num_classes), dtype=np.float32)
    for i, c in enumerate(labels):
        p[i, c] = 0.5
        p[i, 0] += i / 100.0
    if sparse:
        import scipy.sparse

        return scipy.sparse.csr_matrix(p)
    return p


def save_preds(path: Path, labels, num_classes, sparse: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if sparse:
        import scipy.sparse

        scipy.sparse.save_npz(path, preds(labels, num_classes, True))
    else:
        np.save(path, preds(labels, num_classes, False))


def save_feats(path: Path, n: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.repeat(np.arange(n, dtype=np.float32)[:, None], NFEAT, axis=1))


def birds(key: str, root: Path = ROOT) -> None:
    classes = ["Alpha bird", "Beta bird", "Gamma bird"]

    def entry(cid, lon, lat, user=7, date=0.5, valid=True, elon=None, elat=None):
        return {
            "valid_image": valid,
            "im_path": f"img/{cid}_{lon}.jpg",
            "class_id": cid,
            "orig_meta": {"user_id": user, "lon": lon, "lat": lat, "date": date},
            "ebird_meta": {"user_id": 3, "lon": lon if elon is None else elon, "lat": lat if elat is None else elat,
                           "date": 0.25},
        }

    splits = {
        "train": [
            entry(0, -180.0, 10.0),
            entry(1, 180.0, -10.0),
            entry(2, 0.0, 90.0),
            entry(0, 5.0, 5.0, user=None),  # null user: dropped (orig_meta)
            entry(1, 6.0, 6.0, date=float("nan")),  # NaN date: dropped (orig_meta)
            entry(2, None, None, elon=7.0, elat=7.0),  # no orig location, eBird location present
            entry(0, 8.0, 8.0, valid=False),  # invalid image: never loaded
        ],
        "valid": [entry(1, 1.0, 1.0), entry(2, 2.0, 2.0)],
        "test": [
            entry(0, -74.0, 40.7),
            entry(1, None, None, elon=1.0, elat=-90.0),  # no orig location: eval row kept if asked
            entry(2, float("nan"), float("nan"), elon=2.0, elat=2.0),
            entry(1, 3.0, 3.0, valid=False),
        ],
    }
    js = {**splits, "classes": classes}
    folder = root / key
    folder.mkdir(parents=True, exist_ok=True)
    # json.dumps writes NaN as the bare token NaN, which Python's json (and TorchSpatial) accept
    (folder / f"{key}_with_loc_2019.json").write_text(json.dumps(js))
    for split, entries in splits.items():
        valid = [e for e in entries if e["valid_image"]]
        labels = [e["class_id"] for e in valid]
        save_preds(folder / "features_inception" / f"{key}_{split}_preds_sparse.npz", labels, len(classes), True)
        save_feats(folder / "features_inception" / f"{key}_{split}_net_feats.npy", len(valid))


def inat(year: str, root: Path = ROOT) -> None:
    folder = root / f"inat_{year}"
    cats = [{"id": 0, "name": "Aves sp.", "supercategory": "Aves"}, {"id": 1, "name": "Plantae sp."},
            {"id": 2, "name": "Fungi sp."}]
    write_json(folder / f"categories{year}.json", cats)
    data = {
        "train": [(10, 0, -180.0, -90.0, 1), (11, 1, 180.0, 90.0, 2), (12, 2, None, 5.0, 3), (13, 1, 3.0, 4.0, None),
                  (14, 2, 12.5, 41.9, 4)],
        "val": [(20, 2, 10.0, 10.0, 1), (21, 0, None, None, None), (22, 1, -170.0, -45.0, 5)],
    }
    for split, rows in data.items():
        # the images list is deliberately not sorted by id; locations are listed in another order
        images = [{"id": i, "file_name": f"{split}/{i}.jpg", "width": 10, "height": 10} for i, *_ in rows[::-1]]
        anns = [{"id": 1000 + i, "image_id": i, "category_id": c} for i, c, *_ in rows]
        write_json(folder / f"{split}{year}.json", {"images": images, "annotations": anns, "categories": cats})
        locs = [{"id": i, "lon": lon, "lat": lat, "date_c": 0.1, "user_id": u} for i, c, lon, lat, u in rows]
        write_json(folder / f"{split}{year}_locations.json", locs)
        labels = [c for i, c, *_ in rows[::-1]]
        save_preds(folder / "features_inception" / f"inat{year}_{split}_preds_sparse.npz", labels, 3, True)
        save_feats(folder / "features_inception" / f"inat{year}_{split}_net_feats.npy", len(rows))


def fmow(root: Path = ROOT) -> None:
    folder = root / "fmow"
    cats = {"airport": 0, "zoo": 1, "dam": 2, "park": 3}
    write_json(folder / "category.json", cats)
    data = {
        "train": [(1, 0, -180.0, 0.0), (2, 3, 179.5, 89.0), (3, 1, None, None)],
        "val": [(4, 2, 10.0, -90.0), (5, 1, 20.0, 20.0)],
    }
    for split, rows in data.items():
        images = [{"id": i, "file_name": f"{i}.jpg"} for i, *_ in rows]
        anns = [{"image_id": i, "category_id": c} for i, c, *_ in rows]
        write_json(folder / f"{split}.json", {"images": images, "annotations": anns})
        write_json(folder / f"{split}_location.json", [{"id": i, "lon": lon, "lat": lat} for i, c, lon, lat in rows])
        save_preds(folder / "feature_moco" / f"fmow_{split}_preds.npy", [c for _, c, *_ in rows], 4, False)
        save_feats(folder / "features_inception_pretrain" / f"fmow_{split}_pretrain_net_feats.npy", len(rows))


def yfcc(root: Path = ROOT) -> None:
    folder = root / "yfcc"
    write_csv(folder / "class_names.csv", ["id", "name"], [[0, "beach"], [1, "mountain"], [2, "city"]])
    rows = [
        (-180.0, 0.0, 0, "train"), (180.0, 0.0, 1, "train"), ("", "", 2, "train"), (0.0, 90.0, 2, "val"),
        (1.0, -90.0, 1, "test"), ("nan", "nan", 0, "test"), (2.0, 2.0, 2, "test"),
    ]
    write_csv(folder / "train_test_split.csv", ["lon", "lat", "class", "split"], rows)
    for split in ("train", "val", "test"):
        labels = [c for *_, c, s in rows if s == split]
        save_preds(folder / "features_inception" / f"YFCC_{split}_preds.npy", labels, 3, False)
        save_feats(folder / "features_inception" / f"YFCC_{split}_net_feats.npy", len(labels))


def mosaiks(root: Path = ROOT) -> None:
    folder = root / "mosaiks"
    for col in ("population", "forest", "nightlights", "elevation"):
        rows = [(-180.0, 10.0, "train", 1.5), (180.0, -10.0, "test", 2.5), (0.0, 90.0, "train", 0.0),
                (0.0, -90.0, "test", 9.7), (12.0, 34.0, "train", 3.25)]
        write_csv(folder / f"Y_{col}.csv", ["lon", "lat", "split", col], rows)
        save_feats(folder / f"X_{col}.npy", len(rows))


def sustainbench(root: Path = ROOT) -> None:
    folder = root / "sustainbench"
    tasks = ["asset_index", "women_bmi", "water_index", "under5_mort", "sanitation_index", "women_edu"]
    header = ["DHSID_EA", "cname", "year", "lat", "lon", "nl_mean"] + [f"{t}_normalized" for t in tasks]
    train = [
        ["AA-1", "AA", 2010, -90.0, -180.0, 0.5] + [0.1 * (k + 1) for k in range(6)],
        ["AA-2", "AA", 2010, 90.0, 180.0, 1.5] + ["" if k == 0 else -0.2 for k in range(6)],  # NaN asset index
        ["AA-3", "AA", 2011, 1.0, 30.0, 2.5] + [0.3] * 6,
    ]
    test = [["BB-1", "BB", 2015, -5.0, 35.0, 3.5] + ["nan", 1.0, 1.0, 1.0, 1.0, 1.0]]
    write_csv(folder / "dhs_trainval_labels.csv", header, train)
    write_csv(folder / "dhs_test_labels.csv", header, test)


#: dataset name → (writer, its arguments): writes the files one LocBench dataset needs under a root
WRITERS = {
    "birdsnap": (birds, ("birdsnap",)),
    "birdsnap_ebird": (birds, ("birdsnap",)),
    "nabirds_ebird": (birds, ("nabirds",)),
    "inat_2017": (inat, ("2017",)),
    "inat_2018": (inat, ("2018",)),
    "fmow": (fmow, ()),
    "yfcc": (yfcc, ()),
    **{f"mosaiks_{k}": (mosaiks, ()) for k in ("population", "forest_cover", "nightlights", "elevation")},
    **{f"sustainbench_{t}": (sustainbench, ()) for t in ("asset_index", "women_bmi", "water_index", "under5_mort",
                                                          "sanitation_index", "women_edu")},
}


def write_dataset(name: str, root: Path) -> Path:
    """Write the fixture files of LocBench dataset ``name`` under ``root``; returns ``root``."""
    writer, args = WRITERS[name]
    writer(*args, root=root)
    return root


def main(root: Path = ROOT) -> None:
    birds("birdsnap", root)
    birds("nabirds", root)
    inat("2017", root)
    inat("2018", root)
    fmow(root)
    yfcc(root)
    mosaiks(root)
    sustainbench(root)


if __name__ == "__main__":
    main()
