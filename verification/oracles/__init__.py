"""The second stage of the gate: the oracles, which say what each gradient should be.

    torch_mirror        the same network written again in torch, differentiated by autograd
    finite_differences  central differences with Richardson, the complex step, directional
                        derivatives (a subpackage): dE/dtheta from values of E alone, each
                        with its error
    exact               the exact witness (a subpackage): backprop in ball arithmetic, every
                        entry correctly rounded to float64
    tolerance           the rounding-error allowance: how far a correct gradient may lie from
                        the exact one, entry by entry
    rounding            what rounding can do to each activation (the terms of its formulas)
    consult             every oracle consulted on one case (Oracles.of)
    stepsize            the error of finite differences against the step size

This package's __init__ imports nothing: `verification.oracles.tolerance` loads NumPy and the
reference only; torch is loaded by the modules that use it (torch_mirror, consult).
"""
