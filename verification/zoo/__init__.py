"""Specimens for testing gradient checkers: implementations with known bugs.

    bugs  a zoo of classic backprop bugs, each a broken implementation of the gradient contract
          (docs/contract.md, section 4) with the case options that expose it and the layer
          where its error starts; `Textbook` is the correct implementation they break

Plant them into your own pipeline to see that it catches them:

    from verification.zoo.bugs import ZOO
    for bug in ZOO:
        report = verification.check(bug.impl(), cases=200, **bug.options)
        assert not report.ok, bug.name
"""
