"""The sequence-memory benchmark (claim c): the problems' definitions, the networks it trains
(the plugins' own, with their initialisations and the hand-written BPTT of a sequence read-out),
the solved / still-learning detectors, and the per-architecture verdict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harness import claim_c
from harness.studies import sequence_tasks as st
from harness.training import curve_still_learning

# --------------------------------------------------------------------------- the problems


@pytest.mark.parametrize("task", ["adding", "copy"])
def test_trivial_loss_from_the_definition_matches_the_trivial_predictor(task):
    """10,000 sequences: the trivial predictor's empirical loss is within 2% of the closed form.
    For copy the predictor is the best constant one, the empirical symbol frequencies, whose
    cross-entropy is the entropy of the recalled symbols (log 8 when they are uniform over 8)."""
    t = st.get_task(task)
    batch = t.sample(30, 10_000, np.random.default_rng(7))
    if task == "adding":
        empirical, _ = st.loss_and_grad(t, t.trivial_predictions(batch), batch.y)
    else:
        freq = np.bincount(batch.y.ravel(), minlength=st.ALPHABET) / batch.y.size
        empirical = float(-(freq * np.log(freq)).sum())
    assert empirical == pytest.approx(t.trivial_loss, rel=0.02)


def test_adding_problem_has_two_markers_one_per_half_and_the_sum_as_target():
    b = st.get_task("adding").sample(20, 500, np.random.default_rng(1))
    markers = b.X[:, :, 1]
    assert markers.sum(axis=1).tolist() == [2.0] * 500
    assert (markers[:, :10].sum(axis=1) == 1).all() and (markers[:, 10:].sum(axis=1) == 1).all()
    np.testing.assert_allclose(b.y[:, 0], (b.X[:, :, 0] * markers).sum(axis=1), rtol=1e-6)
    assert ((b.X[:, :, 0] >= 0) & (b.X[:, :, 0] < 1)).all()


def test_copy_problem_layout():
    T = 15
    b = st.get_task("copy").sample(T, 100, np.random.default_rng(2))
    codes = b.X.argmax(axis=2)
    assert b.X.shape == (100, T + 20, st.N_CLASSES) and (b.X.sum(axis=2) == 1).all()
    assert ((codes[:, :10] >= 1) & (codes[:, :10] <= 8)).all()
    assert (codes[:, 10 : 10 + T - 1] == 0).all() and (codes[:, 10 + T - 1] == 9).all()
    assert (codes[:, T + 10 :] == 0).all()
    np.testing.assert_array_equal(b.y, codes[:, :10] - 1)  # recall the symbols, in order


def test_cross_entropy_gradient_matches_finite_differences():
    t = st.get_task("copy")
    rng = np.random.default_rng(3)
    out = rng.standard_normal((3, 10, 8))
    y = rng.integers(0, 8, (3, 10))
    _, grad = st.loss_and_grad(t, out, y)
    eps = 1e-6
    for idx in [(0, 0, 0), (1, 4, 3), (2, 9, 7)]:
        up, down = out.copy(), out.copy()
        up[idx] += eps
        down[idx] -= eps
        fd = (st.loss_and_grad(t, up, y)[0] - st.loss_and_grad(t, down, y)[0]) / (2 * eps)
        assert grad[idx] == pytest.approx(fd, abs=1e-7)


def test_solved_is_five_percent_of_trivial():
    assert st.solved(0.05 * 2.0, 2.0) and not st.solved(0.0501 * 2.0, 2.0)
    assert not st.solved(math.nan, 1.0)


@pytest.mark.parametrize("T", [0, -3, 1, 2.5, True])
def test_bad_lengths_are_refused(T):
    with pytest.raises(ValueError, match="sequence length T"):
        st.get_task("adding").sample(T, 4, np.random.default_rng(0))


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="unknown sequence task 'mult'"):
        st.get_task("mult")


# --------------------------------------------------------------------------- still learning


def test_still_learning_detector_on_constructed_curves():
    steps = list(range(0, 4001, 200))
    falling = [1.0 - 0.04 * i for i in range(len(steps))]  # still falling at the end
    assert curve_still_learning(steps, falling, 4000)
    plateau = [1.0] * 10 + [0.3] * (len(steps) - 10)  # learned, then flat
    assert not curve_still_learning(steps, plateau, 4000)
    noisy_flat = [1.0, 0.99, 1.01, 1.0, 0.995] * 4 + [0.989]  # trivial loss, its noise minimum last
    assert not curve_still_learning(steps, noisy_flat, 4000)
    with pytest.raises(ValueError):
        curve_still_learning([0, 1], [1.0], 10)


# --------------------------------------------------------------------------- the networks


def test_numpy_sequence_read_out_gradients_match_finite_differences():
    from plugins.numpy_rnn import ElmanRNN

    net = ElmanRNN(3, 5, 4, seed=1)
    rng = np.random.default_rng(0)
    X, target = rng.standard_normal((2, 7, 3)), rng.standard_normal((2, 3, 4))

    def loss(Y):
        d = Y - target
        return float((d**2).sum()), 2 * d

    net.sequence_loss_and_grads(X, 3, loss)
    grads = {k: v.copy() for k, v in net.grads.items()}
    eps = 1e-6
    for name, P in net.params.items():
        for idx in list(np.ndindex(P.shape))[:: max(1, P.size // 6)]:
            old = P[idx]
            P[idx] = old + eps
            up = loss(net.forward(X)[0][:, -3:])[0]
            P[idx] = old - eps
            down = loss(net.forward(X)[0][:, -3:])[0]
            P[idx] = old
            assert grads[name][idx] == pytest.approx((up - down) / (2 * eps), abs=1e-6), name


def test_numpy_adam_matches_torch_adam():
    torch = pytest.importorskip("torch")
    from plugins.numpy_rnn import ElmanRNN

    net = ElmanRNN(2, 4, 1, seed=0)
    theta = torch.tensor(net.get_flat(), requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.01)
    step = net.adam(0.01)
    rng = np.random.default_rng(0)
    for _ in range(3):
        g = rng.standard_normal(net.n_params)
        net._gflat[...] = g
        step()
        theta.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(net.get_flat(), theta.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_torch_initialisations():
    torch = pytest.importorskip("torch")
    from plugins.torch_rnn import build_network

    torch.manual_seed(0)
    rnn = build_network("rnn", 8, 1, init="orthogonal")
    W = rnn.encoder.weight_hh_l0.detach()
    torch.testing.assert_close(W @ W.T, torch.eye(8), atol=1e-5, rtol=0)
    assert float(rnn.encoder.bias_ih_l0.detach().abs().sum()) == 0.0
    irnn = build_network("rnn", 8, 1, init="identity", activation="relu")
    torch.testing.assert_close(irnn.encoder.weight_hh_l0.detach(), torch.eye(8))
    lstm = build_network("lstm", 8, 1, forget_bias=1.0)
    b = (lstm.encoder.bias_ih_l0 + lstm.encoder.bias_hh_l0).detach()
    torch.testing.assert_close(b[8:16], torch.ones(8))  # torch's gate order: i, f, g, o
    chrono = build_network("lstm", 8, 1, chrono=100)
    bf, bi = chrono.encoder.bias_ih_l0[8:16].detach(), chrono.encoder.bias_ih_l0[:8].detach()
    assert bool(((bf >= 0) & (bf <= math.log(99))).all()) and torch.equal(bi, -bf)
    with pytest.raises(ValueError, match="LSTM only"):
        build_network("gru", 8, 1, forget_bias=1.0)
    seq = build_network("lstm", 8, 5, n_in=3)
    assert tuple(seq.steps(torch.zeros(2, 7, 3), 4).shape) == (2, 4, 5)


def test_forget_bias_on_a_non_lstm_model_is_a_model_error():
    pytest.importorskip("torch")
    import harness
    from plugins.torch_rnn import TorchRNN

    with pytest.raises(harness.ModelError, match="cell='lstm' only"):
        TorchRNN(horizon=2, cell="gru", forget_bias=1.0)


# --------------------------------------------------------------------------- the verdict


def _cells(outcomes: dict[tuple[str, int, str], list[str]]) -> pd.DataFrame:
    """Cells from ``(task, T, model) -> per-seed outcome`` (s: solved, l: still learning, f: failed)."""
    rows = []
    for (task, T, model), seeds in outcomes.items():
        for seed, o in enumerate(seeds):
            rows.append(
                {"task": task, "T": T, "model": model, "seed": seed, "solved": o == "s", "still_learning": o == "l"}
            )
    return pd.DataFrame(rows)


def _grid(elman: str, gated: str, long_elman: str = "fff", long_gated: str = "sss") -> pd.DataFrame:
    out = {}
    for model in ("elman-numpy", "elman-torch"):
        out[("adding", 25, model)] = list(elman)
        out[("adding", 100, model)] = list(long_elman)
    for model in ("lstm", "gru"):
        out[("adding", 25, model)] = list(gated)
        out[("adding", 100, model)] = list(long_gated)
    return _cells(out)


def test_sequence_verdict_supported_where_gated_converged_and_elman_failed():
    v = claim_c.sequence_verdict(_grid("sss", "sss"))
    assert v["verdict"] == "supported" and v["witness"]["T"] == 100
    assert v["witness"]["p"] == pytest.approx(1 / math.comb(9, 3))  # 3/3 vs 0/6


def test_sequence_verdict_still_learning_is_never_failure():
    v = claim_c.sequence_verdict(_grid("sss", "sss", long_elman="lll"))
    assert v["verdict"] == "inconclusive"


def test_sequence_verdict_refuted_when_elman_reaches_what_gated_reach():
    assert claim_c.sequence_verdict(_grid("sss", "sss", long_elman="sss"))["verdict"] == "refuted"


def test_sequence_verdict_inconclusive_when_not_significant_or_nothing_learned():
    assert claim_c.sequence_verdict(_grid("sss", "sss", long_gated="ssf"))["verdict"] == "inconclusive"
    nothing = claim_c.sequence_verdict(_grid("fff", "fff", long_gated="fff"))
    assert nothing["verdict"] == "inconclusive"  # nobody learned anything: refutes nothing


def _forecast(elman: tuple[float, float, float], gated: tuple[float, float, float]) -> pd.DataFrame:
    rows = []
    for model, (lo, hi, learning) in (
        ("rnn-numpy", elman),
        ("elman-torch", elman),
        ("lstm-torch", gated),
        ("gru-torch", gated),
    ):
        rows.append(
            {"task": "copy", "lag": 12, "model": model, "skill_lo": 0.9, "skill_hi": 1.0, "still_learning": 0.0}
        )
        rows.append(
            {"task": "copy", "lag": 48, "model": model, "skill_lo": lo, "skill_hi": hi, "still_learning": learning}
        )
    return pd.DataFrame(rows)


def test_forecast_verdict_values():
    names = {"elman-numpy": "rnn-numpy", "elman-torch": "elman-torch", "lstm": "lstm-torch", "gru": "gru-torch"}
    assert claim_c.forecast_verdict(_forecast((0.0, 0.2, 0), (0.8, 0.9, 0)), names)["verdict"] == "supported"
    assert claim_c.forecast_verdict(_forecast((0.0, 0.2, 1 / 3), (0.8, 0.9, 0)), names)["verdict"] == "inconclusive"
    assert claim_c.forecast_verdict(_forecast((0.8, 0.9, 0), (0.8, 0.9, 0)), names)["verdict"] == "refuted"
    reach = claim_c.forecast_reach(_forecast((0.0, 0.2, 0), (0.8, 0.9, 0))).set_index("model")
    assert reach.loc["rnn-numpy", "reachable_lag"] == 12 and reach.loc["rnn-numpy", "failed_lag"] == 48
    assert reach.loc["lstm-torch", "reachable_lag"] == 48


def test_overall_combination():
    s, r, i = ({"verdict": w} for w in ("supported", "refuted", "inconclusive"))
    assert claim_c.combine([s, i]) == "supported"
    assert claim_c.combine([r, i]) == "refuted"
    assert claim_c.combine([s, r]) == "inconclusive"
    assert claim_c.combine([i, i]) == "inconclusive"


# --------------------------------------------------------------------------- the benchmark


def test_an_elman_net_solves_the_adding_problem_at_a_short_delay():
    """The benchmark's loop really trains: rnn-numpy's network (its own BPTT and Adam) takes the
    adding problem at T = 8 from the trivial loss to below 5% of it within 1,500 updates."""
    from harness.plugins import load_registry
    from harness.studies.sequence_memory import SequenceConfig, run_cell

    config = SequenceConfig(updates=1500, eval_every=100, n_test=500, gradient_lengths=())
    record = run_cell(load_registry(), "adding", 8, "elman-numpy", 0, config)
    row, curve = record["row"], record["curve"]
    assert curve[0]["update"] == 0 and curve[-1]["update"] == 1500 and len(curve) == 16
    assert curve[0]["test_loss"] > 0.5 * row["trivial_loss"]
    assert row["solved"] and row["updates_to_solve"] <= 1500 and not row["still_learning"]
    assert row["n_params"] == 2 * 64 + 64 * 64 + 64 + 64 + 1 and row["device"] == "cpu"


def test_sequence_config_options_and_gpu_lengths():
    from harness.errors import StudyError
    from harness.studies.sequence_memory import SequenceConfig, sequence_config, with_gpu_lengths

    cpu = sequence_config(device="cpu")
    assert cpu == SequenceConfig(device="cpu")
    assert with_gpu_lengths(cpu, True).lengths == (25, 50, 100, 200, 400, 600)
    assert sequence_config(lengths=[30], architectures=["lstm"], updates=10, device="cpu").lengths == (30,)
    with pytest.raises(StudyError, match="--updates must be a positive integer, got 0"):
        sequence_config(updates=0)
    with pytest.raises(StudyError, match="unknown architecture 'rnn'"):
        sequence_config(architectures=["rnn"])


def test_refutation_needs_the_gated_cells_reach_established():
    """A gated cell still learning beyond its reach only has a lower bound: the Elman nets
    reaching as far refutes nothing (a still-learning cell never counts as failing)."""
    names = {"elman-numpy": "rnn-numpy", "elman-torch": "elman-torch", "lstm": "lstm-torch", "gru": "gru-torch"}
    open_gated = _forecast((0.0, 0.2, 0), (0.1, 0.3, 1 / 3))  # all reach L=12; gated still learning at 48
    v = claim_c.forecast_verdict(open_gated, names)
    assert (
        v["verdict"] == "inconclusive" and "reach is open: lstm-torch on copy beyond L=12, gru-torch" in v["evidence"]
    )
    closed = _forecast((0.0, 0.2, 0), (0.1, 0.3, 0))  # gated failed at 48: its reach is 12, established
    assert claim_c.forecast_verdict(closed, names)["verdict"] == "refuted"
    seq = _grid("sss", "sss", long_elman="fff", long_gated="lll")  # all reach 25; gated still learning at 100
    seq = seq[~((seq["model"].isin(["elman-numpy", "elman-torch"])) & (seq["T"] == 100))]
    seq = pd.concat([seq, _cells({("adding", 100, m): list("fff") for m in ("elman-numpy", "elman-torch")})])
    assert claim_c.sequence_verdict(seq)["verdict"] == "inconclusive"
    seq.loc[seq["model"].isin(["lstm", "gru"]) & (seq["T"] == 100), "still_learning"] = False
    assert claim_c.sequence_verdict(seq)["verdict"] == "refuted"  # now failed at 100: reach 25 is established
