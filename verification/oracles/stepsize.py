"""The error of finite differences against the step size (`python -m verification stepsize`,
verification.command_line.stepsize, prints it).

For one parameter theta of one case of the gate's stream, it prints a table (and with --plot
draws the figure) of the error of three estimates of dE/dtheta against the step:

    central differences  D(s) = (E(theta + s) - E(theta - s)) / 2s. Its truncation error
                         s^2 |E'''| / 6 shrinks with s while its rounding error, about
                         eps |E| / s, grows: a V whose bottom, near s ~ eps^(1/3), is about
                         eps^(2/3) ~ 1e-11 of the gradient at best.
    Richardson           (4 D(s/2) - D(s)) / 3, which cancels the s^2 term: the gate's finite
                         differences (verification.oracles.finite_differences.central_differences at
                         the relative step s / max(|theta|, 1)), with its error estimate.
    complex step         Im E(theta + i h) / h: no difference of two nearly equal values, so no
                         rounding arm; exact to rounding for every h small enough (the gate
                         takes h = 1e-200).

The error is measured against g = reference.gradients, exact to rounding: |estimate - g| / |g|,
or |estimate - g| where g = 0. The header gives what the gate uses (its step, its complex step)
and the allowance A of a correct implementation (verification.oracles.tolerance), which is
why the gate judges values against torch.autograd within A and against finite differences
within their own error estimate, never within one fixed tolerance.

ENTRY is LAYER:W:I,J or LAYER:b:J (layers count from 1), e.g. 1:W:0,2; by default the entry
with the largest |dE/dtheta|. Without --case, the first case of the stream in the plain regime
whose E is smooth (no kinked activation), passes through a curved activation (not identity
alone) and is not constant, so that both arms of the V show.
The plot needs matplotlib: pip install 'backprop-oracle[plot]'.
"""

from dataclasses import dataclass

import numpy as np

import reference
from reference import ACTIVATIONS
from verification.cases import Case, CaseOptions, draw_case
from verification.oracles.finite_differences import (
    COMPLEX_STEP,
    EPS,
    central_differences,
)
from verification.oracles.finite_differences import complex_step as gate_complex_step
from verification.oracles.tolerance import allowance

STEP_EXPONENTS = np.arange(0, 57)
"""Steps s = 2^-k max(|theta|, 1) (rounded up to a power of two, as the gate does), k = 0..56:
from the parameter's own size down past its last bit (2^-52), where theta + s == theta."""

TABLE_STRIDE = 2  # the table prints every other step: 2^-0, 2^-2, ...
DEFAULT_CASE_SEARCH = 200  # cases searched for a default case; case 0 if none fits
ZERO_ERROR = EPS / 16
"""Where an error of exactly 0 is drawn on the log axis: below any rounding error (~eps)."""


@dataclass(frozen=True)
class Entry:
    """One parameter: layer l (1..L), "W" or "b", and its index in W^l or b^l."""

    layer: int
    param: str
    index: tuple[int, ...]

    def name(self) -> str:
        """E.g. "dE/dW^1[0, 2]"."""
        return f"dE/d{self.param}^{self.layer}[{', '.join(map(str, self.index))}]"


@dataclass(frozen=True)
class Curves:
    """Errors of each estimate at each step; relative when g != 0 (see `relative`)."""

    case: Case
    entry: Entry
    theta: float
    g: float
    relative: bool
    steps: np.ndarray  # (K,) the step s (or h), absolute
    central: np.ndarray  # (K,)
    richardson: np.ndarray  # (K,)
    richardson_estimate: np.ndarray  # (K,) the gate's own error estimate of its Richardson
    complex: np.ndarray  # (K,)
    gate_step: float  # the gate's Richardson step for this entry
    gate_richardson: float  # error of the gate's Richardson at its step
    gate_skipped: bool  # the gate's steps cross a kink: it does not compare this entry
    gate_complex: float  # error of the gate's complex step (h = COMPLEX_STEP)
    allowance: float  # A of a correct implementation, in the same units


# --- the case and the entry ------------------------------------------------------------------


def smooth_and_curved(case: Case) -> bool:
    """A plain case whose E is smooth (no kinked activation), passes through at least one
    curved activation (not identity alone) and is not constant (cross_entropy over a single
    output is 0 whatever the parameters): a case that shows both arms of the V."""
    arch = case.arch
    smooth = all(ACTIVATIONS[name].kink is None for name in arch.activations)
    curved = any(name != "identity" for name in arch.activations)
    constant = arch.loss == "cross_entropy" and arch.sizes[-1] == 1
    return case.regime == "plain" and smooth and curved and not constant


def choose_case(seed: int, index: int | None, options: CaseOptions) -> Case:
    """Case `index` of the stream, or by default the first smooth_and_curved one (else 0)."""
    if index is not None:
        return draw_case(seed, index, options)
    for i in range(DEFAULT_CASE_SEARCH):
        case = draw_case(seed, i, options)
        if smooth_and_curved(case):
            return case
    return draw_case(seed, 0, options)


def _pick(pair: tuple[np.ndarray, np.ndarray], entry: Entry) -> float:
    """The value of `entry` in a layer's (W-shaped, b-shaped) pair."""
    return float(pair[0 if entry.param == "W" else 1][entry.index])


def choose_entry(case: Case, entry: Entry | None, grads: reference.Params) -> Entry:
    """`entry`, checked against the case's shapes; by default the largest |dE/dtheta|."""
    if entry is None:
        candidates = [
            (abs(float(value)), Entry(l, param, tuple(int(i) for i in index)))
            for l, (grad_W, grad_b) in enumerate(grads, start=1)
            for param, grad in (("W", grad_W), ("b", grad_b))
            for index, value in np.ndenumerate(grad)
        ]
        return max(candidates, key=lambda candidate: candidate[0])[1]
    if not 1 <= entry.layer <= case.L:
        raise ValueError(
            f"--entry: layer {entry.layer}, but case {case.index} has layers 1..{case.L} "
            f"({case.describe()})"
        )
    W, b = case.params[entry.layer - 1]  # layer l is params[l - 1]
    shape = (W if entry.param == "W" else b).shape
    if any(not 0 <= i < n for i, n in zip(entry.index, shape, strict=True)):
        raise ValueError(
            f"--entry: layer {entry.layer}: {entry.param} has shape {shape}, but the index "
            f"was {entry.index}"
        )
    return entry


# --- the estimates ---------------------------------------------------------------------------


def _with_entry(case: Case, entry: Entry, value: complex | float) -> list:
    """The case's parameters with theta replaced by `value` (complex params if it is)."""
    dtype = complex if isinstance(value, complex) else np.float64
    params = [(W.astype(dtype), b.astype(dtype)) for W, b in case.params]
    params[entry.layer - 1][0 if entry.param == "W" else 1][entry.index] = value
    return params


def _E(case: Case, params: list) -> complex | float:
    return reference.error(case.arch, params, case.x, case.y)


def central_difference(case: Case, entry: Entry, theta: float, s: float) -> float:
    """D(s) = (E(theta + s) - E(theta - s)) / 2s, with E from reference.error."""
    E_plus = _E(case, _with_entry(case, entry, theta + s))
    E_minus = _E(case, _with_entry(case, entry, theta - s))
    return float((E_plus - E_minus) / (2 * s))


def complex_step_difference(case: Case, entry: Entry, theta: float, h: float) -> float:
    """Im E(theta + i h) / h, with E from reference.error on complex parameters."""
    return float(_E(case, _with_entry(case, entry, complex(theta, h))).imag / h)


def measure(case: Case, entry: Entry | None = None) -> Curves:
    """The error of each estimate of `entry` (default: the largest |dE/dtheta|) at each step."""
    arch, params, x, y = case.arch, case.params, case.x, case.y
    grads = reference.gradients(arch, params, x, y)
    entry = choose_entry(case, entry, grads)
    g = _pick(grads[entry.layer - 1], entry)
    theta = _pick(params[entry.layer - 1], entry)
    relative = g != 0
    unit = abs(g) if relative else 1.0

    def err(estimate: float) -> float:
        return abs(estimate - g) / unit

    # the curves' step rule: a relative step times max(|theta|, 1), rounded up to a power of 2
    # (the gate's own step is chosen on the scale of the units it moves: gate.steps)
    scale = 2.0 ** np.ceil(np.log2(max(abs(theta), 1.0)))
    relative_steps = 2.0 ** -STEP_EXPONENTS.astype(float)
    central, richardson, richardson_estimate, complex_ = [], [], [], []
    with np.errstate(all="ignore"):  # large steps may overflow exp: an infinite error
        for r in relative_steps:
            s = r * scale
            central.append(err(central_difference(case, entry, theta, s)))
            complex_.append(err(complex_step_difference(case, entry, theta, s)))
            fd = central_differences(arch, params, x, y, step=r)
            richardson.append(err(_pick(fd.grads[entry.layer - 1], entry)))
            richardson_estimate.append(_pick(fd.error[entry.layer - 1], entry) / unit)
    gate = central_differences(arch, params, x, y)
    A = allowance(arch, params, x, y)
    return Curves(
        case=case,
        entry=entry,
        theta=theta,
        g=g,
        relative=relative,
        steps=relative_steps * scale,
        central=np.array(central),
        richardson=np.array(richardson),
        richardson_estimate=np.array(richardson_estimate),
        complex=np.array(complex_),
        gate_step=float(_pick(gate.steps[entry.layer - 1], entry)),
        gate_richardson=err(_pick(gate.grads[entry.layer - 1], entry)),
        gate_skipped=bool(_pick(gate.skipped[entry.layer - 1], entry)),
        gate_complex=err(
            _pick(gate_complex_step(arch, params, x, y).grads[entry.layer - 1], entry)
        ),
        allowance=_pick(A[entry.layer - 1], entry) / unit,
    )


# --- the table and the figure ----------------------------------------------------------------


def _heading(curves: Curves) -> list[str]:
    case = curves.case
    kind = "relative error |estimate - g| / |g|" if curves.relative else "error |estimate - g|"
    return [
        f"{curves.entry.name()} of case {case.index} (seed {case.seed}): {case.describe()}",
        f"theta = {curves.theta!r}, g = reference.gradients = {curves.g!r}; {kind}",
    ]


def table(curves: Curves) -> str:
    """The heading, what the gate uses, and the errors at every TABLE_STRIDE-th step."""
    lines = _heading(curves)
    lines += [
        f"the gate: Richardson at s = {curves.gate_step:.3g} (eps^(1/3) on the scale of the "
        f"units it moves, within reach): error {curves.gate_richardson:.2e}; complex step at "
        f"h = {COMPLEX_STEP:g}: error {curves.gate_complex:.2e}",
        "allowance A of a correct implementation (verification.oracles.tolerance): "
        f"{curves.allowance:.2e}",
    ]
    if curves.gate_skipped:
        lines.append(
            "the gate skips this entry's finite differences: its steps cross a kink "
            "(torch.autograd still judges it)"
        )
    lines += [
        "",
        f"{'step s':>10}  {'central':>9}  {'Richardson':>10}  {'(estimate)':>10}  "
        f"{'complex step':>12}",
    ]
    for i in range(0, len(curves.steps), TABLE_STRIDE):
        lines.append(
            f"{curves.steps[i]:>10.3e}  {curves.central[i]:>9.2e}  {curves.richardson[i]:>10.2e}"
            f"  {curves.richardson_estimate[i]:>10.2e}  {curves.complex[i]:>12.2e}"
        )
    return "\n".join(lines)


CURVE_STYLES = (
    # (field of Curves, matplotlib format, keyword arguments, legend text in mathtext)
    (
        "central",
        "o-",
        {"color": "tab:blue"},
        r"central differences $D(s) = (E(\theta + s) - E(\theta - s))\,/\,2s$: "
        r"truncation $\propto s^2$ (right arm), rounding $\propto \epsilon\,|E|\,/\,s$ (left arm)",
    ),
    (
        "richardson",
        "s-",
        {"color": "tab:orange"},
        r"Richardson $(4\,D(s/2) - D(s))\,/\,3$, as the gate computes it: truncation "
        r"$\propto s^4$, the same rounding arm",
    ),
    (
        "richardson_estimate",
        "--",
        {"color": "tab:orange", "lw": 1, "alpha": 0.7, "marker": ""},
        "the gate's error estimate of its Richardson value (an upper estimate)",
    ),
    (
        "complex",
        "^-",
        {"color": "tab:green"},
        r"complex step $\mathrm{Im}\,E(\theta + ih)\,/\,h$ with $h = s$: truncation "
        r"$\propto h^2$, no rounding arm (the gate takes $h = 10^{-200}$)",
    ),
)
TOP_ERROR = 10.0  # the plot's top: an error beyond 1000% of g says nothing more


def plot(curves: Curves, path: str, Figure) -> None:
    """Draw the curves, the gate's step and the allowance into `path` (the format from its
    extension)."""
    figure = Figure(figsize=(9, 6.2), dpi=110, layout="constrained")
    ax = figure.subplots()
    for field, style, options, label in CURVE_STYLES:
        errors = np.maximum(getattr(curves, field), ZERO_ERROR)  # exact zeros on the floor
        ax.loglog(curves.steps, errors, style, ms=3.5, label=label, **options)
    ax.axvline(curves.gate_step, color="0.4", ls=":", lw=1.2)
    ax.annotate(
        f"the gate's step\ns = {curves.gate_step:.2g}",
        (curves.gate_step, 0.98),
        xycoords=("data", "axes fraction"),
        xytext=(4, 0),
        textcoords="offset points",
        va="top",
        fontsize=8,
        color="0.3",
    )
    ax.axhline(curves.allowance, color="tab:red", ls=":", lw=1.2)
    ax.annotate(
        "allowance A of a correct implementation "
        "(its rounding bound, verification.oracles.tolerance)",
        (0.01, curves.allowance),
        xycoords=("axes fraction", "data"),
        xytext=(0, 3),
        textcoords="offset points",
        fontsize=8,
        color="tab:red",
    )
    ax.axhline(ZERO_ERROR, color="0.8", lw=0.8)
    ax.set_xlabel("step s (for the complex step: h)")
    unit = "relative error |estimate - g| / |g|" if curves.relative else "error |estimate - g|"
    ax.set_ylabel(f"{unit}\n(exact zeros drawn at {ZERO_ERROR:.1g})")
    ax.set_ylim(ZERO_ERROR / 3, TOP_ERROR)
    ax.grid(True, which="major", color="0.9", lw=0.6)
    figure.legend(loc="outside lower left", fontsize=8, frameon=False)
    heading = _heading(curves)
    if curves.gate_skipped:
        heading.append("the gate skips this entry's finite differences: its steps cross a kink")
    ax.set_title("\n".join(heading), fontsize=8.5, loc="left")
    figure.savefig(path)
