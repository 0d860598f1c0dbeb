"""Few-shot hyper-parameter selection: validation only, encoder-lr multiplier, equal trial budgets (fast, synthetic)."""

import copy

import numpy as np
import pytest
import torch

from geosrl.encoders.checkpoint import build_from_architecture
from geosrl.bench.report import render_tuned
from geosrl.config import ConfigError
from geosrl.tasks.fewshot import (FEWSHOT_FULL, FEWSHOT_QUICK, TASK_TARGETS, _finetune_trials, _knn_scores, _run_cell,
                                  _train_end_to_end, card_contexts, check_target_contexts, relative_gain_interval,
                                  resolve_fewshot_config, target_context_conflicts)

ARCH = {"builder": "geosrl.create_encoder", "name": "sphere2vec_spherec_plus", "embed_dim": 8, "net": "ffn",
        "net_kwargs": {"hidden_dim": 16, "num_hidden_layers": 1, "dropout": 0.3},
        "pe_kwargs": {"frequency_num": 4, "min_radius": 0.01, "max_radius": 1.0}}
FC = {"epochs": 1, "min_steps": 4, "batch_size": 64, "lr_grid": [2e-3], "encoder_lr_mult_grid": [1.0, 0.1, 0.0],
      "scratch_lr_grid": [6e-4, 2e-3, 6e-3], "lr_decay": 0.98, "weight_decay": 0.0}
PC = {"steps": 3, "lr_grid": [1e-2, 3e-2], "ridge_grid": [1e-2, 1.0, 100.0], "negatives_pool": 64,
      "knn_k_grid": [1, 5, 20]}


def _encoder(seed=0):
    torch.manual_seed(seed)
    return build_from_architecture(dict(ARCH, pe_kwargs=dict(ARCH["pe_kwargs"], validate=False)))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 300
    ll = np.stack([rng.uniform(-180, 180, n), rng.uniform(-60, 60, n)], 1)
    idx = {"train": np.arange(0, 200), "val": np.arange(200, 250), "test": np.arange(250, 300)}
    y_reg = np.sin(np.radians(ll[:, 1])) * 3 + 0.1 * rng.normal(size=n)
    y_cls = (ll[:, 0] > 0).astype(np.int64) + 2 * (ll[:, 1] > 0)
    return ll, idx, {"regression": y_reg, "classification": y_cls}


def _scramble_test(y, idx, seed=1):
    y2 = y.copy()
    t = idx["test"]
    y2[t] = np.random.default_rng(seed).permutation(y2[t])
    if y2.dtype.kind == "f":
        y2[t] = y2[t] * 7.0 - 50.0  # also shift the test targets' scale
    return y2


@pytest.mark.parametrize("kind", ["regression", "classification"])
@pytest.mark.parametrize("method", ["scratch", "pretrained_finetune", "pretrained_probe", "pretrained_knn"])
def test_choice_ignores_test_labels(data, kind, method):
    ll, idx, ys = data
    y = ys[kind]
    n_out = 4 if kind == "classification" else 1
    pre = _encoder(5)
    sub = idx["train"][::4]

    def run(yy):
        feats = None
        if method in ("pretrained_probe", "pretrained_knn"):
            from geosrl.tasks.fewshot import _embed
            feats = {"all": _embed(pre, ll), "rand": _embed(pre, ll[:64])}
        return _run_cell(method, kind, ll, yy, sub, idx, n_out, ARCH, pre, feats, FC, PC, 0, torch.device("cpu"))[:3]

    tm, vm, hp = run(y)
    tm2, vm2, hp2 = run(_scramble_test(y, idx))
    assert hp2 == hp and vm2 == vm  # same choice, same validation scores
    assert tm2 != tm  # the test metrics did see the scrambled labels
    if method == "pretrained_knn":
        assert hp["knn_k"] in PC["knn_k_grid"]
    if method in ("scratch", "pretrained_finetune"):
        assert hp["n_trials"] == 3 and len(hp["trials"]) == 3
        primary = "top1" if kind == "classification" else "r2"
        best = max(t[f"val_{primary}"] for t in hp["trials"])
        assert vm[primary] == pytest.approx(best)
        assert hp["trials"][[t[f"val_{primary}"] for t in hp["trials"]].index(best)]["lr"] == hp["lr"]


def test_choice_follows_validation(data, monkeypatch):
    """Selection is a pure function of the validation scores: rig them and the rigged trial wins."""
    import geosrl.tasks.fewshot as fs

    ll, idx, ys = data
    calls = {"n": 0}
    real = fs._score_one

    def rigged(kind, out, y, mu, sd):
        m = real(kind, out, y, mu, sd)
        if len(y) == len(idx["val"]):
            calls["n"] += 1
            m["r2"] = 1.0 if calls["n"] == 2 else -1.0  # the second trial is "best" on validation
        return m

    monkeypatch.setattr(fs, "_score_one", rigged)
    _, _, hp, _ = _run_cell("pretrained_finetune", "regression", ll, ys["regression"], idx["train"], idx, 1, ARCH,
                         _encoder(5), None, FC, PC, 0, torch.device("cpu"))
    assert hp["encoder_lr_mult"] == 0.1 and [t["val_r2"] for t in hp["trials"]] == [-1.0, 1.0, -1.0]


def test_encoder_lr_multiplier(data):
    ll, idx, ys = data
    x = torch.as_tensor(ll[:128])
    y = torch.as_tensor(ys["regression"][:128], dtype=torch.float32)
    pre = _encoder(5)
    before = {k: v.clone() for k, v in pre.state_dict().items()}
    deltas = {}
    for mult in (1.0, 0.1, 0.0):
        enc = copy.deepcopy(pre).train()
        model = _train_end_to_end(enc, 8, "regression", x, y, 1, 2e-3, FC, 0, encoder_lr_mult=mult)
        deltas[mult] = max(float((v - before[k]).abs().max()) for k, v in model.encoder.state_dict().items()
                           if v.dtype.is_floating_point)
    assert deltas[0.0] == 0.0  # frozen
    assert 0 < deltas[0.1] < deltas[1.0]
    with pytest.raises(ValueError, match=">= 0"):
        _train_end_to_end(copy.deepcopy(pre), 8, "regression", x, y, 1, 2e-3, FC, 0, encoder_lr_mult=-1)


def test_mult_one_matches_single_group(data):
    """×1 is plain fine-tuning: identical to one Adam group over all parameters."""
    ll, _, ys = data
    x = torch.as_tensor(ll[:128])
    y = torch.as_tensor(ys["regression"][:128], dtype=torch.float32)
    pre = _encoder(5)
    a = _train_end_to_end(copy.deepcopy(pre).train(), 8, "regression", x, y, 1, 2e-3, FC, 0, encoder_lr_mult=1.0)
    # reference: the pre-change single-group loop
    import math
    from geosrl.tasks.fewshot import _Head
    torch.manual_seed(0)
    ref = _Head(copy.deepcopy(pre).train(), 8, 1)
    opt = torch.optim.Adam(ref.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.98)
    g = torch.Generator().manual_seed(0)
    ref.train()
    for _ in range(max(1, math.ceil(4 / math.ceil(128 / 64)))):
        perm = torch.randperm(128, generator=g)
        for s in range(0, 128, 64):
            b = perm[s:s + 64]
            loss = torch.mean((ref(x[b])[:, 0] - y[b]) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    for (k, v), (_, w) in zip(a.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(v, w), k


def test_equal_trial_budgets_in_profiles():
    for prof in (FEWSHOT_QUICK, FEWSHOT_FULL):
        fc = prof["finetune"]
        assert len(_finetune_trials("scratch", fc)) == len(_finetune_trials("pretrained_finetune", fc))
        assert 0.0 in fc["encoder_lr_mult_grid"] and 1.0 in fc["encoder_lr_mult_grid"]
        # the new head may learn as fast as scratch's fastest trial (the fine-tune's best head lr sat at the top
        # of a grid that stopped below scratch's in 21 of 60 validation choices)
        assert max(fc["lr_grid"]) >= max(fc["scratch_lr_grid"])
    cfg = resolve_fewshot_config({"finetune": {"encoder_lr_mult_grid": [1.0]}})
    assert cfg["finetune"]["scratch_lr_grid"] == FEWSHOT_QUICK["finetune"]["scratch_lr_grid"]
    recs = [{"task": "t", "encoder": "pretrained_finetune", "split": "random", "fraction": 0.05, "seed": s,
             "chosen_hparams": {"tuned": {"lr": 2e-3, "encoder_lr_mult": m}}} for s, m in ((1, 0.0), (0, 0.1))]
    md = "\n".join(render_tuned(recs))
    assert ("| t | random · 5% labels | pretrained_finetune | lr=0.002, encoder_lr_mult=0.1; "
            "lr=0.002, encoder_lr_mult=0 |") in md


def test_resume_rejects_cells_from_another_grid():
    """A few-shot cell stores its config's fingerprint: another fine-tuning grid is another fingerprint
    (the runner refuses to resume or merge across it), another checkpoint path with the same tensors is not."""
    from geosrl.bench.config import build_config

    base = build_config("fewshot_quick")
    other_grid = build_config("fewshot_quick")
    other_grid.protocol["finetune"] = dict(FC, lr_grid=[2e-3, 2e-2])
    same_weights = build_config("fewshot_quick")
    base.protocol.update(pretrained="a/enc.safetensors", pretrained_sha256="abc")
    same_weights.protocol.update(pretrained="b/enc.safetensors", pretrained_sha256="abc")
    assert base.fingerprint("country") != other_grid.fingerprint("country")
    assert base.fingerprint("country") == same_weights.fingerprint("country")
    other_weights = build_config("fewshot_quick")
    other_weights.protocol.update(pretrained="a/enc.safetensors", pretrained_sha256="def")
    assert base.fingerprint("country") != other_weights.fingerprint("country")


def test_knn_scores_match_brute_force():
    rng = np.random.default_rng(3)
    z_tr, z_q = rng.normal(size=(50, 6)), rng.normal(size=(7, 6))
    y_reg, y_cls = rng.normal(size=50), rng.integers(0, 3, size=50)
    cos = (z_q / np.linalg.norm(z_q, axis=1, keepdims=True)) @ (z_tr / np.linalg.norm(z_tr, axis=1, keepdims=True)).T
    top = np.argsort(-cos, axis=1)[:, :5]
    reg = _knn_scores(torch.tensor(z_tr), torch.tensor(y_reg), torch.tensor(z_q), 5, "regression", 1, chunk=3)
    np.testing.assert_allclose(reg[:, 0].numpy(), y_reg[top].mean(1), rtol=1e-12)
    cls = _knn_scores(torch.tensor(z_tr), torch.tensor(y_cls), torch.tensor(z_q), 5, "classification", 3)
    votes = np.stack([(y_cls[top] == c).mean(1) for c in range(3)], 1)
    prior = np.bincount(y_cls, minlength=3) / 50
    np.testing.assert_allclose(cls.numpy(), votes + 1e-3 * prior, rtol=1e-6)
    # k larger than the training set: every point votes
    allk = _knn_scores(torch.tensor(z_tr), torch.tensor(y_reg), torch.tensor(z_q), 500, "regression", 1)
    np.testing.assert_allclose(allk[:, 0].numpy(), np.full(7, y_reg.mean()), rtol=1e-12)


def test_relative_gain_interval():
    ref = {(0, 0): 0.50, (0, 1): 0.60, (1, 0): 0.40}
    m = {(0, 0): 0.55, (0, 1): 0.63, (1, 0): 0.48, (9, 9): 99.0}  # (9, 9) is not paired: ignored
    g = relative_gain_interval(m, ref)
    d = np.array([0.05, 0.03, 0.08])
    half = 4.302652729911275 * d.std(ddof=1) / np.sqrt(3)  # t(0.975, 2)
    assert g["n"] == 3 and g["reference"] == pytest.approx(0.5)
    assert g["gain"] == pytest.approx(d.mean() / 0.5)
    assert (g["low"], g["high"]) == (pytest.approx((d.mean() - half) / 0.5), pytest.approx((d.mean() + half) / 0.5))
    lower = relative_gain_interval({k: -v for k, v in m.items()}, {k: -v for k, v in ref.items()}, direction=-1)
    assert lower["gain"] == pytest.approx(g["gain"])  # lower-is-better metrics: same gain for the same improvement
    one = relative_gain_interval({0: 1.0}, {0: 0.5})
    assert one["gain"] == pytest.approx(1.0) and np.isnan(one["low"]) and np.isnan(one["high"])
    with pytest.raises(ValueError, match="no key"):
        relative_gain_interval({0: 1.0}, {1: 1.0})


ALTITUDE = {"name": "altitude", "source": "pvlib_altitude", "quantities": ["elevation", "land_water"]}
RGB = {"name": "bmng_rgb", "source": "nasa_blue_marble", "quantities": ["land_water", "true_colour_imagery"]}


def test_target_context_declarations():
    # every task of the offline suite declares its target
    from geosrl.datasets import list_offline_tasks

    assert set(list_offline_tasks()) <= set(TASK_TARGETS)
    # cards of geosrl.pretrain declare contexts; older cards are read from their channel names
    assert card_contexts({"training_data": {"contexts": [dict(RGB, licence="PD", channels=["r", "g", "b"])]}}) == [RGB]
    # a card recorded before land/water was declared for Blue Marble gets today's declaration
    older = dict(RGB, quantities=["true_colour_imagery"])
    assert card_contexts({"training_data": {"contexts": [older]}}) == [RGB]
    legacy = {"training_data": {"channels": ["bmng_red", "bmng_green", "bmng_blue", "pvlib_altitude_code"]}}
    assert card_contexts(legacy) == [RGB, ALTITUDE]
    assert card_contexts({}) == []  # an encoder not pre-trained on contexts
    with pytest.raises(ConfigError, match="without a declared source"):
        card_contexts({"training_data": {"channels": ["mystery_band"]}})
    # same source or same quantity is a conflict
    assert target_context_conflicts("elevation", [RGB, ALTITUDE]) == ["altitude"]
    # altitude's no-data is the sea; land and water are visible in Blue Marble's colours
    assert target_context_conflicts("land_ocean", [RGB, ALTITUDE]) == ["bmng_rgb", "altitude"]
    assert target_context_conflicts("country", [RGB, ALTITUDE]) == []
    assert target_context_conflicts("my_task", []) == []
    with pytest.raises(ConfigError, match="TASK_TARGETS"):
        target_context_conflicts("my_task", [RGB])


def test_target_context_refused_or_labelled_by_policy():
    legacy = {"training_data": {"channels": ["bmng_red", "bmng_green", "bmng_blue", "pvlib_altitude_code"]}}
    with pytest.raises(ConfigError, match=r"elevation .*altitude.*data\.contexts.*target_context = \"label\""):
        check_target_contexts(["country", "elevation"], legacy)
    found = check_target_contexts(["country", "elevation"], legacy, policy="label")
    assert found == {"country": [], "elevation": ["altitude"]}
    assert resolve_fewshot_config({})["target_context"] == "refuse"
    with pytest.raises(ConfigError, match="target_context"):
        resolve_fewshot_config({"target_context": "allow"})
