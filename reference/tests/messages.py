"""assert_message: check the parts of an error message that matter, not its whole wording.

The reference's errors read "what = got, but should be expected [where]", e.g.

    layer 2: W has shape (5, 5), but should be (4, 5) to map h^1 of width 4 to h^2 of width 5

A test states which parts it relies on: the layer named, the quantity, what came (before
", but"), what was expected (after it), the shapes, and any advice. Rewording the rest of the
sentence then breaks no test, while a message that names the wrong layer or quantity, or swaps
what came with what was expected, still fails.
"""

import re
from collections.abc import Sequence

BUT = ", but "


def _holds(text: str, fragment: str) -> bool:
    """Whether `fragment` occurs in `text` as whole words: not glued to a letter, digit or _ on
    either side ("b" is not in "dE/db"; "(3,)" is not in "(3,)XX")."""
    return re.search(rf"(?<!\w){re.escape(fragment)}(?!\w)", text) is not None


def message_problems(
    message: str,
    *,
    layer: int | None = None,
    quantity: str | None = None,
    got: str | None = None,
    expected: str | None = None,
    shapes: Sequence[tuple[int, ...]] = (),
    mentions: Sequence[str] = (),
    absent: Sequence[str] = (),
) -> list[str]:
    """What `message` lacks of the parts asked for (an empty list when it has them all).

    layer     the message names "layer <layer>" (1..L, as the seed counts);
    quantity  the quantity (W, b, dE/db, x, y, sizes[1], ...) is named before ", but";
    got       what came appears before ", but";
    expected  what was expected appears after ", but";
    shapes    each shape appears as Python prints it: (3,), (2, 3);
    mentions  each further fragment (advice, a list of valid names) appears;
    absent    no such fragment appears (e.g. a hint that does not apply).

    Every part is looked for as whole words (_holds).
    """
    what, but, should = message.partition(BUT)
    problems = []
    if layer is not None and not _holds(message, f"layer {layer}"):
        problems.append(f"does not name layer {layer}")
    if quantity is not None and not _holds(what, quantity):
        problems.append(f"does not name the quantity {quantity!r} before {BUT!r}")
    if got is not None and not _holds(what, got):
        problems.append(f"does not say that {got!r} came (before {BUT!r})")
    if expected is not None and (not but or not _holds(should, expected)):
        problems.append(f"does not say that {expected!r} was expected (after {BUT!r})")
    problems += [
        f"lacks the shape {shape}" for shape in shapes if not _holds(message, str(tuple(shape)))
    ]
    problems += [f"lacks {fragment!r}" for fragment in mentions if not _holds(message, fragment)]
    problems += [f"should not hold {fragment!r}" for fragment in absent if fragment in message]
    return problems


def assert_message(error: BaseException, **parts) -> None:
    """Assert that str(error) has the parts of message_problems; the failure quotes it whole."""
    problems = message_problems(str(error), **parts)
    assert not problems, f"the message {str(error)!r} " + "; ".join(problems)
