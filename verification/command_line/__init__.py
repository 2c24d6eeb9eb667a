"""The last stage: the command lines.

    main      `python -m verification` and `backprop-gate`: the gate, and the subcommands
    options   what the commands share: one-line errors, bounded numbers, the case options
    stepsize  `python -m verification stepsize`: finite differences against the step size

`python -m verification vectors` is verification.vectors.command.
"""
