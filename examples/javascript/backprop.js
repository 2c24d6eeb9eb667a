// Backpropagation in a multi-layer perceptron, by hand, in plain JavaScript (no packages).
//
// The notation of "Backpropagation simply explained" (docs/contract.md of backprop-oracle):
// examples are rows; layer l counts from 1 to L; W^l is (n_{l-1}, n_l), b^l is (n_l,).
//
//   z^l     = h^{l-1} W^l + b^l                      preActivation
//   h^l     = phi_l(z^l)                              activate
//   delta^L = phi_L'(z^L) * dE/dh^L                   outputDelta
//   delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T   hiddenDelta
//   dE/dW^l = (h^{l-1})^T delta^l                     weightGradient
//   dE/db^l = 1^T delta^l  (column sums of delta^l)   biasGradient
//
// E = (1/n) sum_i L(h^L_i, y_i) is the batch MEAN of the loss. A matrix is an array of rows
// (arrays of numbers), exactly as the vector files hold them. JavaScript numbers are IEEE 754
// doubles, so this computes in float64, like the reference.
//
// The formulas are the textbook ones (tanh' = 1 - tanh^2, sigmoid' = s(z) s(-z), ...): the
// tolerance policy of backprop-oracle admits them, even where a saturated unit makes them lose
// every digit of a tiny result.

"use strict";

// --- matrices: arrays of rows ---------------------------------------------------------------

/** A B, shapes (n, m) (m, k) -> (n, k). */
function matmul(A, B) {
  const k = B.length === 0 ? 0 : B[0].length;
  return A.map((row) => {
    const out = new Array(k).fill(0);
    row.forEach((a, i) => {
      const B_i = B[i];
      for (let j = 0; j < k; j++) out[j] += a * B_i[j];
    });
    return out;
  });
}

/** A^T, shape (n, m) -> (m, n). */
function transpose(A) {
  return A[0].map((_, j) => A.map((row) => row[j]));
}

/** f applied to every entry of A. */
function map2(A, f) {
  return A.map((row) => row.map(f));
}

/** A * B entrywise (the product of the seed's equations written with a dot). */
function times(A, B) {
  return A.map((row, i) => row.map((a, j) => a * B[i][j]));
}

// --- activations (docs/contract.md, section 2): phi and its derivative dphi ----------------

const LEAKY_SLOPE = 0.01;
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

function sigmoid(z) {
  return 1 / (1 + Math.exp(-z)); // exp(-z) = Infinity for z < -709 gives 0, as it should
}

/** log(1 + e^z) without overflow: max(z, 0) + log(1 + e^-|z|). */
function softplus(z) {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

// At a kink the derivative follows PyTorch: relu'(0) = 0, leaky_relu'(0) = 0.01, elu'(0) = 1.
const ACTIVATIONS = {
  identity: { phi: (z) => z, dphi: () => 1 },
  sigmoid: { phi: sigmoid, dphi: (z) => sigmoid(z) * sigmoid(-z) },
  tanh: {
    phi: Math.tanh,
    dphi: (z) => {
      const t = Math.tanh(z);
      return 1 - t * t;
    },
  },
  relu: { phi: (z) => (z > 0 ? z : 0), dphi: (z) => (z > 0 ? 1 : 0) },
  leaky_relu: {
    phi: (z) => (z > 0 ? z : LEAKY_SLOPE * z),
    dphi: (z) => (z > 0 ? 1 : LEAKY_SLOPE),
  },
  softplus: { phi: softplus, dphi: sigmoid },
  elu: { phi: (z) => (z > 0 ? z : Math.expm1(z)), dphi: (z) => (z > 0 ? 1 : Math.exp(z)) },
  gelu_tanh: {
    // phi(z) = z/2 (1 + tanh(w)), w = c (z + a z^3), c = sqrt(2/pi), a = 0.044715
    phi: (z) => 0.5 * z * (1 + Math.tanh(GELU_C * (z + GELU_A * z * z * z))),
    // phi'(z) = (1 + tanh w)/2 + z/2 (1 - tanh^2 w) w',  w' = c (1 + 3 a z^2)
    dphi: (z) => {
      const t = Math.tanh(GELU_C * (z + GELU_A * z * z * z));
      const dw = GELU_C * (1 + 3 * GELU_A * z * z);
      return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * dw;
    },
  },
};

// --- losses (docs/contract.md, section 3): E and dE/dh^L, both with the 1/n of the mean ----

/** softmax of one row of logits, shifted by its maximum so that exp cannot overflow. */
function softmax(row) {
  const top = Math.max(...row);
  const e = row.map((v) => Math.exp(v - top));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

function logSumExp(row) {
  const top = Math.max(...row);
  return top + Math.log(row.reduce((s, v) => s + Math.exp(v - top), 0));
}

const LOSSES = {
  // 1/2 sum_k (h_k - y_k)^2 per example; y (n, n_L)
  squared_error: {
    value: (h, y) => mean(h.map((row, i) => 0.5 * sum(row.map((v, k) => (v - y[i][k]) ** 2)))),
    grad: (h, y) => h.map((row, i) => row.map((v, k) => (v - y[i][k]) / h.length)),
  },
  // -log softmax(h)_y per example; h are logits, y (n,) integer labels
  cross_entropy: {
    value: (h, y) => mean(h.map((row, i) => logSumExp(row) - row[y[i]])),
    grad: (h, y) =>
      h.map((row, i) => softmax(row).map((p, k) => (p - (k === y[i] ? 1 : 0)) / h.length)),
  },
  // sum_k softplus(h_k) - y_k h_k per example; h are logits, y (n, n_L) in [0, 1]
  binary_cross_entropy: {
    value: (h, y) => mean(h.map((row, i) => sum(row.map((v, k) => softplus(v) - y[i][k] * v)))),
    grad: (h, y) => h.map((row, i) => row.map((v, k) => (sigmoid(v) - y[i][k]) / h.length)),
  },
};

function sum(values) {
  return values.reduce((s, v) => s + v, 0);
}

function mean(values) {
  return sum(values) / values.length;
}

// --- the seed's equations, one function each ------------------------------------------------

/** z^l = h^{l-1} W^l + b^l; shapes (n, n_{l-1}) (n_{l-1}, n_l) (n_l,) -> (n, n_l). */
function preActivation(hPrev, W, b) {
  return matmul(hPrev, W).map((row) => row.map((v, j) => v + b[j]));
}

/** h^l = phi_l(z^l), entrywise. */
function activate(z, phi) {
  return map2(z, phi);
}

/** delta^L = phi_L'(z^L) * dE/dh^L; shapes (n, n_L) -> (n, n_L). */
function outputDelta(z, dphi, dE_dh) {
  return times(map2(z, dphi), dE_dh);
}

/** delta^l = phi_l'(z^l) * delta^{l+1} (W^{l+1})^T; (n, n_{l+1}) (n_l, n_{l+1}) -> (n, n_l). */
function hiddenDelta(deltaNext, WNext, z, dphi) {
  return times(map2(z, dphi), matmul(deltaNext, transpose(WNext)));
}

/** dE/dW^l = (h^{l-1})^T delta^l; shapes (n, n_{l-1}) (n, n_l) -> (n_{l-1}, n_l). */
function weightGradient(hPrev, delta) {
  return matmul(transpose(hPrev), delta);
}

/** dE/db^l = 1^T delta^l, the column sums of delta^l; (n, n_l) -> (n_l,). */
function biasGradient(delta) {
  return delta[0].map((_, j) => sum(delta.map((row) => row[j])));
}

// --- the passes -----------------------------------------------------------------------------

/**
 * Forward and backward pass. `arch` is {sizes, activations, loss}; `params` is one {W, b}
 * per layer, layer l at params[l - 1]. Returns {E, h, z, delta, gradients}, where h[l], z[l]
 * and delta[l] are h^l, z^l and delta^l for l = 1..L (h[0] = x; z[0] and delta[0] unused),
 * and gradients[l - 1] = {grad_W, grad_b} of layer l.
 */
function backprop(arch, params, x, y) {
  const L = arch.activations.length;
  const phi = (l) => ACTIVATIONS[arch.activations[l - 1]];
  const loss = LOSSES[arch.loss];
  if (!loss || arch.activations.some((name) => !ACTIVATIONS[name])) {
    throw new Error(`unknown activation or loss in ${JSON.stringify(arch)}`);
  }

  const h = [x];
  const z = [null];
  for (let l = 1; l <= L; l++) {
    const { W, b } = params[l - 1]; // layer l is params[l - 1]
    z[l] = preActivation(h[l - 1], W, b);
    h[l] = activate(z[l], phi(l).phi);
  }

  const delta = [];
  const gradients = [];
  delta[L] = outputDelta(z[L], phi(L).dphi, loss.grad(h[L], y));
  for (let l = L; l >= 1; l--) {
    gradients[l - 1] = {
      grad_W: weightGradient(h[l - 1], delta[l]),
      grad_b: biasGradient(delta[l]),
    };
    if (l > 1) {
      delta[l - 1] = hiddenDelta(delta[l], params[l - 1].W, z[l - 1], phi(l - 1).dphi);
    }
  }
  return { E: loss.value(h[L], y), h, z, delta, gradients };
}

module.exports = { ACTIVATIONS, LOSSES, backprop };
