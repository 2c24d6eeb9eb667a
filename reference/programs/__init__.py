"""The reference's command-line programs, run by `python -m reference`:

    main          the command line: its parser and main(), which runs one program
    train_xor     `python -m reference [train]`: trains a small network on XOR
    explain       `python -m reference explain`: one step of backprop with every number
    command_line  what the command lines share: one-line errors, whole-number options, and a
                  quiet exit when stdout's reader goes away

The package `reference` itself never imports this group (nor argparse): backprop is usable
without its programs.
"""
