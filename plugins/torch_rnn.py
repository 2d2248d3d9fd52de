"""``rnn-torch``, ``lstm-torch``, ``gru-torch``: recurrent forecasters in PyTorch, on CPU or CUDA.

One forecaster class, :class:`TorchRNN`, with a ``cell`` parameter (``"rnn"``, ``"lstm"``,
``"gru"``); the three model names are registrations of it. It mirrors ``rnn-numpy``
(:class:`plugins.numpy_rnn.RNNNumpy`) on purpose: the same preprocessing and windowing from
:mod:`harness.windows` (log, classical deseasonalisation when the M4 test finds seasonality,
per-window normalisation, at most 60 newest windows per series, input size 1.25 x max(horizon,
season length)), the same validation tail (the newest window of every series) with early stopping
and restoring the best epoch, and the same strategies, so that a comparison of the two measures
the network and its implementation, not the data handling. With ``cell="rnn"``, one layer and
``dtype="float64"`` the network is exactly rnn-numpy's Elman network (see :meth:`TorchRNN.load_elman`).

Strategies
----------
- ``mimo`` (default): the encoder reads the window; a Linear head on its last hidden state emits
  all ``horizon`` steps at once.
- ``recursive``: many-to-one, one step ahead, fed back ``horizon`` times
  (:func:`harness.windows.forecast_recursive`).
- ``seq2seq``: encoder-decoder. The encoder's final state initialises a decoder of the same cell
  type that unrolls ``horizon`` steps; each step's Linear output is the next step's input (no
  teacher forcing, so training and forecasting run the same deterministic computation). The
  first decoder input is the window's last value.

Devices and reproducibility
---------------------------
``device="auto"`` uses CUDA when available, else the CPU. On the GPU the training windows are
moved to the device once, mini-batches are gathered there by index, and the only host
synchronisation in an epoch is the one read of the training and validation loss at its end;
``bf16=True`` runs forward passes under bfloat16 autocast (GPU only). On the CPU a seed fixes the
result exactly (weights are initialised and batches shuffled from generators seeded by ``seed``,
inside :func:`torch.random.fork_rng` so the global RNG of the process is untouched). On the GPU
results are NOT bit-reproducible: cuDNN's RNN kernels (and ``cudnn.benchmark``'s choice of
algorithm) use non-deterministic reductions in the backward pass, so two runs with the same seed
can differ in the last bits, which training then amplifies. Compare GPU runs across seeds.

torch is an optional extra (``pip install 'rnnbench[torch]'``): this module imports without it and
then registers the three names as :class:`harness.Unavailable`, with the reason and the extra to
install, so that a run naming one of them says what to install and a built-in suite runs without
them (one warning).
"""

from __future__ import annotations

import abc
import contextlib
import importlib.util
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

import harness

__all__ = [
    "TorchRNN",
    "TorchWindowForecaster",
    "build_network",
    "initialise",
    "if_torch",
    "CELLS",
    "STRATEGIES",
    "DEVICES",
    "DTYPES",
    "INITS",
]

CELLS: tuple[str, ...] = ("rnn", "lstm", "gru")
STRATEGIES: tuple[str, ...] = ("mimo", "recursive", "seq2seq")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu")
DTYPES: tuple[str, ...] = ("float32", "float64")
#: How the recurrent weights start: torch's defaults; rnn-numpy's (Haar-orthogonal W_hh, Glorot
#: input and head weights, zero biases); or the IRNN's (identity W_hh, N(0, 0.001^2) inputs, zero
#: biases; Le, Jaitly & Hinton 2015, meant for cell="rnn" with activation="relu").
INITS: tuple[str, ...] = ("default", "orthogonal", "identity")


def _torch() -> Any:
    """torch, imported on first use so that this module imports without it."""
    import torch

    return torch


_NETWORK_CLASS: Any = None


def _network_class() -> Any:
    """The ``nn.Module`` of the forecaster, defined on first use (it needs torch to exist)."""
    global _NETWORK_CLASS
    if _NETWORK_CLASS is not None:
        return _NETWORK_CLASS
    torch = _torch()
    nn = torch.nn

    class RecurrentNet(nn.Module):
        """Encoder (RNN/LSTM/GRU, stacked) + Linear head; optionally a decoder (seq2seq).

        Input ``x`` of shape ``(batch, time)`` (one value per step); output ``(batch, n_out)``.
        """

        def __init__(
            self,
            cell: str,
            hidden: int,
            n_out: int,
            layers: int,
            dropout: float,
            activation: str,
            strategy: str,
            n_in: int = 1,
        ) -> None:
            super().__init__()
            self.cell, self.strategy, self.n_out, self.n_in = cell, strategy, n_out, n_in
            kwargs: dict[str, Any] = {
                "num_layers": layers,
                "batch_first": True,
                "dropout": dropout if layers > 1 else 0.0,
            }
            if cell == "rnn":
                kwargs["nonlinearity"] = activation
            rnn_cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
            self.encoder = rnn_cls(n_in, hidden, **kwargs)
            if strategy == "seq2seq":
                self.decoder = rnn_cls(1, hidden, **kwargs)
                self.head = nn.Linear(hidden, 1)
            else:
                self.head = nn.Linear(hidden, n_out)

        def steps(self, x: Any, k: int) -> Any:
            """The head applied to each of the last ``k`` hidden outputs: ``x`` of shape
            ``(batch, time, n_in)`` in, ``(batch, k, n_out)`` out. What a sequence task that is
            scored at several steps reads (the copy-memory problem); ``k = 1`` is the last step."""
            out, _ = self.encoder(x)
            return self.head(out[:, -int(k) :])

        def forward(self, x: Any) -> Any:
            out, state = self.encoder(x.unsqueeze(-1))
            if self.strategy != "seq2seq":
                return self.head(out[:, -1])
            step = x[:, -1:].unsqueeze(-1)  # (batch, 1, 1): the window's last value starts the decoder
            outputs = []
            for _ in range(self.n_out):
                dec, state = self.decoder(step, state)
                step = self.head(dec)  # (batch, 1, 1), fed back as the next input
                outputs.append(step)
            return torch.cat(outputs, dim=1).squeeze(-1)

    _NETWORK_CLASS = RecurrentNet
    return RecurrentNet


def build_network(
    cell: str,
    hidden: int,
    n_out: int,
    *,
    layers: int = 1,
    dropout: float = 0.0,
    activation: str = "tanh",
    strategy: str = "mimo",
    n_in: int = 1,
    init: str = "default",
    forget_bias: float | None = None,
    chrono: int | None = None,
) -> Any:
    """The forecaster's network (a ``torch.nn.Module``): ``(batch, time)`` windows in,
    ``(batch, n_out)`` forecasts out; with ``n_in > 1`` its :meth:`steps` reads ``(batch, time,
    n_in)`` sequences (the sequence-memory benchmark). Initialised by :func:`initialise`
    (``init``, ``forget_bias``, ``chrono``); call it inside a seeded RNG."""
    net = _network_class()(cell, int(hidden), int(n_out), int(layers), float(dropout), activation, strategy, int(n_in))
    initialise(net, init, forget_bias=forget_bias, chrono=chrono)
    return net


def _recurrent_modules(net: Any) -> list[Any]:
    return [m for m in (getattr(net, "encoder", None), getattr(net, "decoder", None)) if m is not None]


def initialise(net: Any, init: str = "default", *, forget_bias: float | None = None, chrono: int | None = None) -> None:
    """Set the initial weights of a :func:`build_network` network in place (torch's global RNG).

    ``init="default"`` keeps torch's (every weight and bias U(-1/sqrt(H), 1/sqrt(H))).
    ``"orthogonal"`` is rnn-numpy's :class:`~plugins.numpy_rnn.ElmanRNN` initialisation: each
    recurrent block ``W_hh`` (one per gate for LSTM/GRU) Haar-orthogonal, so the recurrence
    starts neither vanishing nor exploding; input and head weights Glorot-uniform; biases 0.
    ``"identity"`` is the IRNN's (Le, Jaitly & Hinton 2015): ``W_hh = I``, input weights
    N(0, 0.001^2), biases 0 (head Glorot-uniform), for a ReLU Elman cell that starts by
    carrying its state unchanged.

    LSTM only: ``forget_bias=b`` sets the forget gate's bias to ``b`` (Gers, Schmidhuber &
    Cummins 2000; Jozefowicz et al. 2015 recommend 1), so the cell starts by keeping its memory;
    ``chrono=T_max`` is the chrono initialisation (Tallec & Ollivier 2018): forget bias
    ``log(U(1, T_max - 1))`` and input bias its negative, memory time scales up to ``T_max``.
    torch splits each bias in two (``b_ih + b_hh``); the chosen value goes into ``b_ih``, ``b_hh``
    of that gate becomes 0."""
    torch = _torch()
    nn = torch.nn
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if (forget_bias is not None or chrono is not None) and net.cell != "lstm":
        raise ValueError(f"forget_bias and chrono apply to the LSTM only (this cell is {net.cell!r})")
    if forget_bias is not None and chrono is not None:
        raise ValueError("give forget_bias or chrono, not both")
    if chrono is not None and int(chrono) < 3:
        raise ValueError(f"chrono is the longest memory time scale T_max and must be >= 3, got {chrono}")
    with torch.no_grad():
        for rnn in _recurrent_modules(net):
            H = rnn.hidden_size
            for name, p in rnn.named_parameters():
                if init == "default":
                    continue
                if name.startswith("bias"):
                    p.zero_()
                elif name.startswith("weight_hh"):
                    for g in range(p.shape[0] // H):  # one H x H block per gate
                        block = p[g * H : (g + 1) * H]
                        nn.init.orthogonal_(block) if init == "orthogonal" else block.copy_(torch.eye(H))
                elif init == "identity":  # weight_ih
                    nn.init.normal_(p, 0.0, 1e-3)
                else:
                    for g in range(p.shape[0] // H):
                        nn.init.xavier_uniform_(p[g * H : (g + 1) * H])
            if net.cell == "lstm" and (forget_bias is not None or chrono is not None):
                for layer in range(rnn.num_layers):
                    b_ih, b_hh = getattr(rnn, f"bias_ih_l{layer}"), getattr(rnn, f"bias_hh_l{layer}")
                    b_hh[H : 2 * H] = 0.0  # torch's gate order: input, forget, cell, output
                    if chrono is None:
                        b_ih[H : 2 * H] = float(forget_bias)
                    else:
                        b_f = torch.log(torch.empty(H).uniform_(1.0, float(chrono) - 1.0))
                        b_ih[H : 2 * H] = b_f
                        b_ih[:H] = -b_f
                        b_hh[:H] = 0.0
        if init != "default":
            nn.init.xavier_uniform_(net.head.weight)
            nn.init.zeros_(net.head.bias)


class TorchWindowForecaster(harness.WindowForecaster):
    """What every torch forecaster here shares: the training parameters, device selection (CPU
    or CUDA), the device hooks (synchronize, warm-up, peak memory), torch's CPU threads, and the
    training loop of :meth:`train_network` (Adam, clipping by global norm, early stopping on the
    validation tail restoring the best epoch, the training log). A subclass supplies the network
    (:meth:`_new_network`: a module from ``(batch, time)`` windows to ``(batch, n_out)``), its
    parameters, ``name`` and ``family``: :class:`TorchRNN` (rnn/lstm/gru) and
    :class:`plugins.torch_tcn.TorchTCN` (a temporal convolutional network) differ in nothing else.

    ``threads`` (torch CPU threads during fit and predict, restored afterwards; ``None`` leaves
    torch's setting) is 1 by default because the recurrent kernels work on small matrices that
    gain little from intra-op threads, and on a busy machine OpenMP's spin-waiting made 2 threads
    5-20x slower than 1 (measured on the 2-core development machine under load). ``dtype``
    defaults to float32 (rnn-numpy: float64) because that is what torch kernels are fast at;
    ``float64`` is there for exact comparisons. Training is Adam with gradient clipping by global
    norm ``clip_norm`` on the MSE of the normalised windows; ``training="global"`` (default) fits
    one network on the windows of all series in mini-batches of ``batch_size``, ``"local"`` one
    network per series.
    """

    epochs: int = harness.param(
        60, "maximum training epochs (no limit when max_updates is set)", ge=1, search=(20, 60, "log")
    )
    batch_size: int = harness.param(256, "training windows per mini-batch", ge=1, search=[64, 128, 256, 512])
    lr: float = harness.param(1e-3, "Adam learning rate", gt=0, search=(1e-4, 1e-2, "log"))
    clip_norm: float | None = harness.param(
        1.0, "clip gradients to this global norm (null: no clipping)", gt=0, nullable=True
    )
    patience: int = harness.param(
        8,
        "early stopping after this many checks (epochs, or check_every updates) without a better validation loss",
        ge=1,
        search=(4, 12, "log"),
    )
    dtype: str = harness.param("float32", "floating-point precision of weights and data", choices=DTYPES)
    device: str = harness.param("auto", "where to train: auto (CUDA when available), cpu or cuda", choices=DEVICES)
    bf16: bool = harness.param(False, "bfloat16 autocast in forward passes (CUDA only)")
    threads: int | None = harness.param(
        1, "torch CPU threads during fit and predict (null: leave torch's setting)", ge=1, nullable=True
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        torch = _torch()
        cuda = torch.cuda.is_available()
        asked = self.params["device"]
        if asked == "cuda" and not cuda:
            raise harness.ModelError(
                f"model {self.name}: device='cuda' but torch.cuda.is_available() is False "
                f"(torch {torch.__version__}); use device='cpu' or 'auto'"
            )
        use_cuda = asked == "cuda" or (asked == "auto" and cuda)
        self._device = torch.device("cuda", torch.cuda.current_device()) if use_cuda else torch.device("cpu")
        if self.bf16 and not use_cuda:
            raise harness.ModelError(f"model {self.name}: bf16=True needs a CUDA device (this one is cpu)")
        # the resolved device (cpu, cuda:0), recorded with every result; the device parameter as
        # asked for (auto/cpu/cuda) stays in params["device"]
        self.device = str(self._device)
        self._dtype = torch.float64 if self.dtype == "float64" else torch.float32
        self.nets_: list[Any] = []
        self.history_: list[dict[str, Any]] = []

    @abc.abstractmethod
    def _new_network(self) -> Any:
        """A freshly initialised network (``torch.nn.Module``): ``(batch, time)`` windows in,
        ``(batch, n_out)`` outputs out. Called inside the seeded RNG of :meth:`train_network`."""

    # --- device hooks -----------------------------------------------------------------------

    @property
    def device_name(self) -> str:
        return _torch().cuda.get_device_name(self._device) if self._device.type == "cuda" else ""

    def synchronize(self) -> None:
        if self._device.type == "cuda":
            _torch().cuda.synchronize(self._device)

    def warm_up(self, panel: harness.Panel) -> None:
        """On the GPU, one forward/backward of a throwaway network at the training batch shape:
        creates the CUDA context and lets cuDNN pick its kernels before the timed fit."""
        if self._device.type != "cuda":
            return
        torch = _torch()
        torch.backends.cudnn.benchmark = True
        net = self._new_network().to(self._device, self._dtype)
        x = torch.zeros(int(self.batch_size), self.window, device=self._device, dtype=self._dtype)
        with self._autocast():
            loss = net(x).float().square().mean()
        loss.backward()
        self.synchronize()

    def peak_device_memory_mb(self) -> float | None:
        if self._device.type != "cuda":
            return None
        return _torch().cuda.max_memory_allocated(self._device) / 2**20

    # --- fitting ------------------------------------------------------------------------------

    def _autocast(self) -> Any:
        torch = _torch()
        return torch.autocast(device_type=self._device.type, dtype=torch.bfloat16, enabled=bool(self.bf16))

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        """torch's intra-op threads set to ``threads`` for the duration, then restored."""
        torch = _torch()
        before = torch.get_num_threads()
        if self.threads is not None and int(self.threads) != before:
            torch.set_num_threads(int(self.threads))
        try:
            yield
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)

    def fit(self, panel: harness.Panel) -> None:
        torch = _torch()
        if self._device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.cuda.reset_peak_memory_stats(self._device)
        self.nets_, self.history_ = [], []
        with self._threads():
            super().fit(panel)

    def predict(self, panel: harness.Panel) -> dict[str, np.ndarray]:
        with self._threads():
            return super().predict(panel)

    def train_network(self, train: Any, val: Any, seed: int) -> Callable[[np.ndarray], np.ndarray]:
        """Train one network on ``train`` windows; early stopping on ``val`` (the newest
        ``val_windows`` windows of each series) restores the best check's weights. The budget and
        the checks are :meth:`harness.WindowForecaster.update_budget`'s (an epoch each by default;
        ``max_updates`` and ``check_every`` make them updates), the same schedule as rnn-numpy's.
        Every check goes into the training log (:meth:`harness.WindowForecaster.training_log`)
        after the check's one host read of its losses, which on a GPU waits for the kernels
        before it, so the log's clocks include them."""
        torch = _torch()
        dev, dt = self._device, self._dtype

        def on_device(a: np.ndarray) -> Any:  # once per fit, not per batch
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dt).to(dev)

        X, Y = on_device(train.X), on_device(train.Y)
        Xv, Yv = (None, None) if val is None else (on_device(val.X), on_device(val.Y))
        n, bs = X.shape[0], max(1, int(self.batch_size))
        budget = self.update_budget(n, bs, int(self.epochs))
        log = self.training_log(budget.checks)
        history: dict[str, Any] = {"train_loss": [], "val_loss": [], "best_epoch": None}
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(seed)  # weights and dropout masks
            net = self._new_network().to(dev, dt)
            shuffle = torch.Generator(device=dev)
            shuffle.manual_seed(seed + 1)
            opt_kwargs = {"fused": True} if dev.type == "cuda" else {}
            opt = torch.optim.Adam(net.parameters(), lr=float(self.lr), **opt_kwargs)
            params = list(net.parameters())
            best_val, best_state, bad = math.inf, None, 0
            updates, check, seen, stop = 0, 0, 0, False
            total = torch.zeros((), device=dev, dtype=torch.float32)
            while not stop:  # epochs, each a fresh shuffle, until the budget is spent or patience runs out
                net.train()
                perm = torch.randperm(n, generator=shuffle, device=dev)
                for s in range(0, n, bs):
                    idx = perm[s : s + bs]
                    with self._autocast():
                        pred = net(X[idx])
                    loss = torch.nn.functional.mse_loss(pred.to(dt), Y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    if self.clip_norm is not None:
                        torch.nn.utils.clip_grad_norm_(params, float(self.clip_norm))
                    opt.step()
                    total += loss.detach().float() * idx.numel()
                    seen += idx.numel()
                    updates += 1
                    if not budget.is_check(updates):
                        continue
                    # a check: the mean loss of the windows since the last one, validation, patience
                    if Xv is None:
                        history["train_loss"].append(float(total) / seen)
                        log.epoch(updates, history["train_loss"][-1])
                    else:
                        net.eval()
                        with torch.no_grad(), self._autocast():
                            vloss = torch.nn.functional.mse_loss(net(Xv).to(dt), Yv).float()
                        train_loss, val_loss = torch.stack([total / seen, vloss]).tolist()  # the check's one sync
                        net.train()
                        history["train_loss"].append(train_loss)
                        history["val_loss"].append(val_loss)
                        log.epoch(updates, train_loss, val_loss)
                        if not math.isfinite(train_loss):
                            stop = True
                        elif val_loss < best_val:
                            best_val, bad, history["best_epoch"] = val_loss, 0, check
                            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                        else:
                            bad += 1
                            stop = bad >= int(self.patience)
                    total, seen, check = torch.zeros((), device=dev, dtype=torch.float32), 0, check + 1
                    if stop or budget.done(updates):
                        stop = True
                        break
            if best_state is not None:
                net.load_state_dict(best_state)
        history["epochs_run"] = len(history["train_loss"])
        net.eval()
        self.nets_.append(net)
        self.history_.append(history)
        return self._predictor(net)

    # --- forecasting --------------------------------------------------------------------------

    def _predictor(self, net: Any) -> Callable[[np.ndarray], np.ndarray]:
        torch = _torch()

        def predict(x: np.ndarray) -> np.ndarray:
            out = []
            with torch.no_grad(), self._autocast():
                for s in range(0, x.shape[0], 8192):
                    xb = torch.as_tensor(np.ascontiguousarray(x[s : s + 8192]), dtype=self._dtype).to(self._device)
                    out.append(net(xb).to(torch.float64).cpu().numpy())
            return np.concatenate(out) if out else np.empty((0, self.n_out))

        return predict


class TorchRNN(TorchWindowForecaster):
    """``rnn-torch`` / ``lstm-torch`` / ``gru-torch``: a PyTorch RNN forecaster (see the module
    docstring for strategies, devices and reproducibility, and :class:`TorchWindowForecaster`
    for the training parameters and loop it shares with the other torch forecasters).

    Parameters beyond rnn-numpy's: ``cell``, ``layers`` (stacked recurrent layers), ``dropout``
    (between layers, so only with ``layers > 1``), ``device`` (``auto``/``cpu``/``cuda``),
    ``bf16`` (bfloat16 autocast, CUDA only), ``threads``. ``activation`` applies to
    ``cell="rnn"`` only.
    """

    name: ClassVar[str] = "rnn-torch"
    #: the family of the default cell; :meth:`family_of` gives the registered or chosen one
    family: ClassVar[str] = "rnn"
    strategy: str = harness.param(
        "mimo",
        "mimo: a Linear head emits all horizon steps at once; recursive: one step, fed back horizon times; "
        "seq2seq: an encoder-decoder unrolls the horizon",
        choices=STRATEGIES,
    )
    cell: str = harness.param("rnn", "recurrent cell (rnn: the Elman cell of rnn-numpy)", choices=CELLS)
    hidden: int = harness.param(32, "hidden units per recurrent layer", ge=1, search=(8, 64, "log"))
    layers: int = harness.param(1, "stacked recurrent layers", ge=1, search=[1, 2])
    dropout: float = harness.param(
        0.0, "dropout between stacked layers (no effect with layers=1)", ge=0, lt=1, search=(0.0, 0.4, "linear")
    )
    activation: str = harness.param("tanh", "activation of cell=rnn (lstm and gru ignore it)", choices=ACTIVATIONS)
    init: str = harness.param(
        "default",
        "initial weights: default (torch's), orthogonal (rnn-numpy's: orthogonal W_hh, Glorot inputs, zero biases), "
        "identity (IRNN: W_hh = I, tiny inputs, zero biases)",
        choices=INITS,
        id_at_default=False,
        # the Elman cell only, and never away from the IRNN's identity start, which is its method
        search=["default", "orthogonal"],
        search_if={"cell": ("rnn",), "init": ("default", "orthogonal")},
    )
    forget_bias: float | None = harness.param(
        None,
        "LSTM forget-gate bias (1 is the usual choice; null: as init sets it)",
        type=float,
        nullable=True,
        id_at_default=False,
        search=[None, 1.0],
        search_if={"cell": ("lstm",), "chrono": (None,)},  # a GRU has no forget gate; chrono sets it itself
    )
    chrono: int | None = harness.param(
        None,
        "LSTM chrono initialisation with this longest time scale T_max (null: off)",
        type=int,
        ge=3,
        nullable=True,
        id_at_default=False,
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if (self.forget_bias is not None or self.chrono is not None) and self.cell != "lstm":
            raise harness.ModelError(f"model {self.name}: forget_bias and chrono apply to cell='lstm' only")
        if self.forget_bias is not None and self.chrono is not None:
            raise harness.ModelError(f"model {self.name}: give forget_bias or chrono, not both")

    @classmethod
    def family_of(cls, params: Mapping[str, Any]) -> str:
        """The cell is the family: ``rnn`` (Elman), ``lstm`` or ``gru``, so ``lstm-torch`` and
        ``-p rnn-torch.cell=gru`` are what they compute, whatever they are named."""
        return str(params.get("cell", cls.defaults["cell"]))

    def _new_network(self) -> Any:
        return build_network(
            self.cell,
            self.hidden,
            self.n_out,
            layers=self.layers,
            dropout=self.dropout,
            activation=self.activation,
            strategy=self.strategy,
            init=self.init,
            forget_bias=self.forget_bias,
            chrono=self.chrono,
        )

    @classmethod
    def sequence_network(cls, params: Mapping[str, Any], n_in: int, n_out: int) -> Any:
        """This model's network for a sequence task (the sequence-memory benchmark,
        :mod:`harness.studies.sequence_memory`): the same :func:`build_network` and
        initialisation as the forecaster, from resolved ``params`` (the registered defaults and
        overrides), with ``n_in`` inputs per step and ``n_out`` outputs read by its ``steps``.
        Call it inside a seeded RNG; the caller moves it to a device."""
        return build_network(
            str(params["cell"]),
            int(params["hidden"]),
            int(n_out),
            layers=int(params["layers"]),
            dropout=float(params["dropout"]),
            activation=str(params["activation"]),
            n_in=int(n_in),
            init=str(params["init"]),
            forget_bias=params["forget_bias"],
            chrono=params["chrono"],
        )

    def load_elman(self, params: dict[str, np.ndarray]) -> None:
        """Use the weights of an rnn-numpy :class:`~plugins.numpy_rnn.ElmanRNN` instead of
        training (``params`` is its ``.params`` dict: ``W_x, W_h, b, W_y, b_y``), for checking that
        the two implementations compute the same function. Needs ``cell="rnn"``, one layer and a
        strategy other than seq2seq; the result replaces a global fit (``predict`` works next).

        torch computes ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, so
        ``W_ih = W_x^T``, ``W_hh = W_h^T``, ``b_ih = b``, ``b_hh = 0`` and the head is ``W_y^T, b_y``.
        """
        if self.cell != "rnn" or int(self.layers) != 1 or self.strategy == "seq2seq" or self.training != "global":
            raise harness.ModelError(
                f"model {self.name}: load_elman needs cell='rnn', layers=1, training='global', "
                "strategy mimo or recursive"
            )
        expected = (int(self.hidden), int(self.hidden))
        if np.shape(params["W_h"]) != expected or np.shape(params["W_y"]) != (expected[0], self.n_out):
            raise harness.ModelError(
                f"model {self.name}: load_elman needs W_h {expected} and W_y {(expected[0], self.n_out)}, "
                f"got {np.shape(params['W_h'])} and {np.shape(params['W_y'])}"
            )
        torch = _torch()
        net = self._new_network().to(self._device, self._dtype)

        def t(a: np.ndarray) -> Any:
            return torch.as_tensor(np.array(a, dtype=float), dtype=self._dtype, device=self._device)

        with torch.no_grad():
            net.encoder.weight_ih_l0.copy_(t(params["W_x"]).T)
            net.encoder.weight_hh_l0.copy_(t(params["W_h"]).T)
            net.encoder.bias_ih_l0.copy_(t(params["b"]))
            net.encoder.bias_hh_l0.zero_()
            net.head.weight.copy_(t(params["W_y"]).T)
            net.head.bias.copy_(t(params["b_y"]))
        net.eval()
        self.nets_, self.history_, self.training_logs_ = [net], [{}], []
        self.predictors_ = [self._predictor(net)]


#: What the torch models are registered as when torch is missing.
TORCH_MISSING = harness.Unavailable("torch is not installed", install="pip install 'rnnbench[torch]'")


def if_torch(cls: type[harness.Forecaster]) -> Any:
    """``cls`` when torch is installed, else :data:`TORCH_MISSING`: what a torch model's name is
    registered as. find_spec, not import: importing torch costs seconds in every process (and
    every dask worker) of a run, even one that never uses a torch model."""
    return cls if importlib.util.find_spec("torch") is not None else TORCH_MISSING


@harness.hookimpl
def register_models(register: Any) -> None:
    cls = if_torch(TorchRNN)
    register(cls, name="rnn-torch", cell="rnn")
    register(cls, name="lstm-torch", cell="lstm")
    register(cls, name="gru-torch", cell="gru")
    # The Elman cell with rnn-numpy's initialisation, and the IRNN (Le, Jaitly & Hinton 2015: a
    # ReLU Elman cell starting from the identity, trained with a small learning rate); rnn-torch
    # keeps torch's default initialisation.
    register(cls, name="elman-torch", cell="rnn", init="orthogonal")
    register(cls, name="irnn-torch", cell="rnn", activation="relu", init="identity", lr=1e-4)
