"""Training budgets in parameter updates (harness.UpdateBudget; the ``max_updates``,
``check_every`` and ``val_windows`` parameters of every WindowForecaster): the same schedule in
rnn-numpy's and the torch loop, patience counted in checks, the validation set's size, and
defaults that change neither a fit nor a config id."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

import harness
from harness.params import keyed_params
from harness.plugins import load_registry
from plugins.numpy_rnn import ElmanRNN, RNNNumpy
from tests.conftest import sine_panel, split

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
NEW = ("max_updates", "check_every", "val_windows")


def test_budget_arithmetic():
    b = harness.UpdateBudget.of(100, 32, epochs=5)  # 4 batches an epoch, the last partial
    assert (b.batches_per_epoch, b.updates, b.check_every, b.checks) == (4, 20, 4, 5)
    assert [u for u in range(1, 21) if b.is_check(u)] == [4, 8, 12, 16, 20]
    b = harness.UpdateBudget.of(100, 32, epochs=5, max_updates=10, check_every=3)
    assert (b.updates, b.checks) == (10, 4) and [u for u in range(1, 11) if b.is_check(u)] == [3, 6, 9, 10]
    assert b.done(10) and not b.done(9)
    assert harness.UpdateBudget.of(100, 32, epochs=5, max_updates=1000).checks == 250  # epochs no limit
    with pytest.raises(ValueError, match="check_every >= 1"):
        harness.UpdateBudget.of(100, 32, epochs=5, check_every=0)


def _numpy(**params):
    return RNNNumpy(horizon=12, season_length=12, hidden=4, batch_size=16, seed=0, **params)


def _torch(**params):
    spec = load_registry().model("lstm-torch")
    return spec.build(
        horizon=12,
        season_length=12,
        seed=0,
        params=spec.resolve_params({"device": "cpu", "hidden": 4, "batch_size": 16, **params}),
    )


MAKERS = [pytest.param(_numpy, id="rnn-numpy"), pytest.param(_torch, id="lstm-torch", marks=needs_torch)]


@pytest.mark.parametrize("make", MAKERS)
def test_max_updates_runs_exactly_that_many_updates_across_epochs(make):
    """Without early stopping (patience larger than the checks) the fit makes exactly
    max_updates updates, more than one epoch holds, validating every check_every and at the end."""
    train, _ = split(sine_panel(n_series=3))
    m = make(max_updates=23, check_every=5, patience=100, epochs=1)
    m.fit(train)
    log = m.training_logs_[0]
    assert log.updates == [5, 10, 15, 20, 23] and log.max_epochs == 5
    assert all(math.isfinite(v) for v in log.val_loss)
    assert log.still_learning == (log.best_epoch == 4)  # the last check is the last 10% of 5


@pytest.mark.parametrize("make", MAKERS)
def test_patience_counts_checks(make):
    """A learning rate too small to move float weights: the validation loss never improves on
    the first check, so the fit stops after 1 + patience checks, i.e. (1 + patience) x
    check_every updates, and keeps the first check's weights."""
    train, _ = split(sine_panel(n_series=3))
    m = make(max_updates=1000, check_every=7, patience=3, lr=1e-30)
    m.fit(train)
    log = m.training_logs_[0]
    assert log.updates == [7, 14, 21, 28] and log.best_epoch == 0 and log.max_epochs == math.ceil(1000 / 7)
    assert len(set(log.val_loss)) == 1


def test_rnn_numpy_and_torch_follow_the_same_schedule():
    pytest.importorskip("torch")
    train, _ = split(sine_panel(n_series=3))
    logs = []
    for make in (_numpy, _torch):
        m = make(max_updates=30, check_every=8, patience=100)
        m.fit(train)
        logs.append(m.training_logs_[0])
    assert logs[0].updates == logs[1].updates == [8, 16, 24, 30]
    assert logs[0].max_epochs == logs[1].max_epochs == 4


def test_elman_fit_patience_in_checks_with_a_frozen_network():
    """ElmanRNN.fit itself (lr 0: the weights never move, the validation loss never improves)."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 5, 1)), rng.standard_normal((40, 1))
    seen = []
    history = ElmanRNN(1, 3, 1, seed=0).fit(
        X[:30],
        Y[:30],
        X_val=X[30:],
        Y_val=Y[30:],
        lr=0.0,
        batch_size=4,
        max_updates=500,
        check_every=6,
        patience=2,
        on_epoch=lambda u, t, v: seen.append(u),
    )
    assert seen == [6, 12, 18] and history["best_epoch"] == 0 and history["epochs_run"] == 3


@pytest.mark.parametrize("k", [1, 3])
def test_val_windows_are_the_newest_k_of_each_series(k):
    class Recording(RNNNumpy):
        def train_network(self, train, val, seed):
            self.sizes = (len(train.X), len(val.X), val)
            return super().train_network(train, val, seed)

    train, _ = split(sine_panel(n_series=4))
    m = Recording(horizon=12, season_length=12, hidden=3, epochs=1, val_windows=k)
    m.fit(train)
    n_train, n_val, val = m.sizes
    assert n_val == 4 * k
    win = harness.windows.training_windows(
        [t.z for t in m._transformed(train)], m.window, m.n_out, normalize=m.normalize, max_per_series=60
    )
    for s in range(4):  # the k newest windows of the series (stride 1: consecutive ends)
        np.testing.assert_array_equal(np.sort(val.end[val.series == s]), np.sort(win.end[win.series == s])[-k:])
    # training windows: those whose targets end before the first value a validation window
    # predicts (and before the last horizon values), none of them overlapping the validation tail
    ends = np.sort(win.end[win.series == 0])
    first_predicted = ends[-k] - m.n_out
    assert n_train == 4 * int(np.sum(ends <= min(first_predicted, ends[-1] - m.horizon)))


def test_defaults_keep_the_fit_and_the_config_id():
    """The new parameters at their defaults are the epoch budget of before (same updates, same
    weights as an explicit epoch-sized budget) and stay out of config ids; set, they enter them."""
    train, _ = split(sine_panel(n_series=3))
    a, b = _numpy(epochs=3), _numpy(epochs=3, max_updates=None, check_every=None, val_windows=1)
    a.fit(train)
    b.fit(train)
    per_epoch = a.training_logs_[0].updates[0]
    c = _numpy(epochs=99, max_updates=3 * per_epoch, check_every=per_epoch)
    c.fit(train)
    for other in (b, c):
        np.testing.assert_array_equal(a.nets_[0].get_flat(), other.nets_[0].get_flat())
        assert a.training_logs_[0].updates == other.training_logs_[0].updates
    params = {**RNNNumpy.defaults}
    keyed = keyed_params(RNNNumpy.parameters, params)
    assert set(params) - set(keyed) == {*NEW, "threads"}  # threads: rnn-numpy's BLAS, likewise added later
    assert keyed_params(RNNNumpy.parameters, {**params, "max_updates": 5000, "val_windows": 4}).keys() >= {
        "max_updates",
        "val_windows",
    }
