"""``tcn-torch``: a temporal convolutional network (TCN) forecaster in PyTorch, on CPU or CUDA.

The non-recurrent contender of claim (b)'s mechanism: a recurrent network must process the
``T`` steps of a window one after another (forward and backpropagation through time), while a
stack of dilated causal convolutions computes every step of every layer at once, so its work is
parallel over time. Everything else is shared with the torch RNNs
(:class:`plugins.torch_rnn.TorchWindowForecaster`: preprocessing, windows, strategies, global or
local training, conformal intervals, the training loop, devices, threads, the training log), so
an RNN-TCN comparison measures the architectures.

The network (Bai, Kolter & Koltun 2018, "An empirical evaluation of generic convolutional and
recurrent networks for sequence modeling"; locuslab/TCN ``TemporalBlock``): ``blocks`` residual
blocks (the paper's *levels*; ``levels`` is the harness's name for interval levels), block ``i`` (from 0) with dilation ``2**i``; a block is ``[causal Conv1d(kernel_size,
dilation) -> ReLU -> Dropout] x 2`` plus the residual (a 1x1 convolution where the channel count
changes, the identity elsewhere), then ReLU. Causal: each convolution's input is padded on the
left only, so the output at step ``t`` depends on inputs ``<= t``. The window enters as
``(batch, 1, T)``; the last step's channels go through a Linear layer to ``n_out`` outputs
(mimo: the horizon; recursive: 1). Weight normalisation (locuslab's default) is optional
(``weight_norm``); the default leaves it off so that the network is plain convolutions initialised
as torch does (as the RNNs are), the cheaper computation to time against them.

Receptive field: every block adds ``2 (k - 1) 2**i`` steps, so ``L`` levels see
``1 + 2 (k - 1) (2**L - 1)`` steps (:func:`receptive_field`). ``blocks=None`` (the default) takes
as many as the input window needs (:func:`levels_needed`), so the forecast depends on every
input value, as an RNN's does; a fixed default would leave most of a long window unseen (the
T-axis of the cost study goes to 1024 steps) or waste levels on M3's 8-23-step windows. An
explicit ``blocks`` is used as given, even when it sees fewer steps than the window.

Size at the defaults (``channels=16``, ``kernel_size=3``): on M3 monthly (window 23, horizon 18,
mimo) 3 levels and 4,322 parameters, between ``gru-torch`` (3,954) and ``lstm-torch`` (5,074) at
their 32 hidden units (``rnn-torch``: 1,714); ``tests/test_tcn.py`` checks these counts.
"""

from __future__ import annotations

from typing import Any, ClassVar

import harness
from plugins.torch_rnn import TorchWindowForecaster, _torch, if_torch

__all__ = ["TorchTCN", "build_tcn", "levels_needed", "receptive_field"]


def receptive_field(levels: int, kernel_size: int) -> int:
    """Input steps the last output of ``levels`` blocks sees: ``1 + 2 (k - 1) (2**L - 1)``."""
    return 1 + 2 * (int(kernel_size) - 1) * (2 ** int(levels) - 1)


def levels_needed(window: int, kernel_size: int) -> int:
    """The fewest levels (at least 1) whose receptive field covers ``window`` input steps."""
    levels = 1
    while receptive_field(levels, kernel_size) < window:
        levels += 1
    return levels


_NETWORK_CLASS: Any = None


def _network_class() -> Any:
    """The ``nn.Module`` of the forecaster, defined on first use (it needs torch to exist)."""
    global _NETWORK_CLASS
    if _NETWORK_CLASS is not None:
        return _NETWORK_CLASS
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    class TemporalBlock(nn.Module):
        """Two dilated causal convolutions with ReLU and dropout, and a residual connection."""

        def __init__(self, n_in: int, n_out: int, kernel: int, dilation: int, dropout: float, norm: bool) -> None:
            super().__init__()
            self.pad = (kernel - 1) * dilation  # on the left only: causal
            wrap = nn.utils.parametrizations.weight_norm if norm else (lambda m: m)
            self.conv1 = wrap(nn.Conv1d(n_in, n_out, kernel, dilation=dilation))
            self.conv2 = wrap(nn.Conv1d(n_out, n_out, kernel, dilation=dilation))
            self.drop = nn.Dropout(dropout)
            self.down = nn.Conv1d(n_in, n_out, 1) if n_in != n_out else None

        def forward(self, x: Any) -> Any:
            out = self.drop(F.relu(self.conv1(F.pad(x, (self.pad, 0)))))
            out = self.drop(F.relu(self.conv2(F.pad(out, (self.pad, 0)))))
            return F.relu(out + (x if self.down is None else self.down(x)))

    class TCN(nn.Module):
        """``levels`` temporal blocks (dilation 1, 2, 4 ...) and a Linear head on the last step.

        Input ``x`` of shape ``(batch, time)``; output ``(batch, n_out)``. :meth:`features` is
        the convolution stack's output ``(batch, channels, time)`` at every step."""

        def __init__(self, channels: int, levels: int, kernel: int, dropout: float, norm: bool, n_out: int) -> None:
            super().__init__()
            blocks = [
                TemporalBlock(1 if i == 0 else channels, channels, kernel, 2**i, dropout, norm) for i in range(levels)
            ]
            self.blocks = nn.Sequential(*blocks)
            self.head = nn.Linear(channels, n_out)

        def features(self, x: Any) -> Any:
            return self.blocks(x.unsqueeze(1))

        def forward(self, x: Any) -> Any:
            return self.head(self.features(x)[:, :, -1])

    _NETWORK_CLASS = TCN
    return TCN


def build_tcn(
    channels: int, levels: int, n_out: int, *, kernel_size: int = 3, dropout: float = 0.0, weight_norm: bool = False
) -> Any:
    """The forecaster's network (a ``torch.nn.Module``) with torch's default initialisation:
    ``(batch, time)`` windows in, ``(batch, n_out)`` forecasts out."""
    return _network_class()(int(channels), int(levels), int(kernel_size), float(dropout), bool(weight_norm), int(n_out))


class TorchTCN(TorchWindowForecaster):
    """``tcn-torch``: a temporal convolutional network forecaster (dilated causal convolutions in
    residual blocks; the module docstring gives the network, its receptive field and its size)
    with the torch RNNs' training parameters, loop, devices and threads; strategies mimo and
    recursive."""

    name: ClassVar[str] = "tcn-torch"
    family: ClassVar[str] = "tcn"
    channels: int = harness.param(16, "channels of every convolution", ge=1)
    blocks: int | None = harness.param(
        None,
        "residual blocks (levels), block i with dilation 2**i (null: the fewest whose receptive field "
        "covers the input window)",
        type=int,
        ge=1,
    )
    kernel_size: int = harness.param(3, "kernel size of the dilated causal convolutions", ge=2)
    dropout: float = harness.param(0.0, "dropout after each convolution's ReLU", ge=0, lt=1)
    weight_norm: bool = harness.param(False, "weight-normalise the convolutions (locuslab/TCN's default)")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        k = int(self.kernel_size)
        #: the levels (residual blocks) used: as given, or the fewest that see the whole input window
        self.n_levels = int(self.blocks) if self.blocks is not None else levels_needed(self.window, k)
        #: input steps the last output sees (the forecast depends on min(this, window) of them)
        self.receptive_field = receptive_field(self.n_levels, k)

    def _new_network(self) -> Any:
        return build_tcn(
            self.channels,
            self.n_levels,
            self.n_out,
            kernel_size=self.kernel_size,
            dropout=self.dropout,
            weight_norm=self.weight_norm,
        )


@harness.hookimpl
def register_models(register: Any) -> None:
    register(if_torch(TorchTCN), name="tcn-torch")
