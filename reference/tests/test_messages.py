"""The message helper of the reference's tests: each part it checks can fail."""

import pytest

from reference.tests.messages import assert_message, message_problems

MESSAGE = (
    "layer 2: W has shape (5, 5), but should be (4, 5) to map h^1 of width 4 to h^2 of width 5"
)
PARTS = {
    "layer": 2,
    "quantity": "W",
    "got": "(5, 5)",
    "expected": "(4, 5)",
    "shapes": [(5, 5), (4, 5)],
    "mentions": ["h^1 of width 4"],
    "absent": ["complex"],
}


def test_a_message_with_every_part_passes() -> None:
    assert message_problems(MESSAGE, **PARTS) == []
    assert_message(ValueError(MESSAGE), **PARTS)


@pytest.mark.parametrize(
    ("part", "wrong"),
    [
        ("layer", 1),  # another layer
        ("layer", 22),  # "layer 2" is not "layer 22"
        ("quantity", "b"),  # another quantity
        ("quantity", "h"),  # only in h^1, after ", but"
        ("got", "(4, 5)"),  # the expected shape given as the one that came
        ("expected", "(5, 5)"),  # what came given as the expected shape
        ("shapes", [(5,)]),
        ("mentions", ["h^1 of width 5"]),
        ("absent", ["width 4"]),
    ],
)
def test_each_wrong_part_is_reported(part: str, wrong) -> None:
    problems = message_problems(MESSAGE, **{**PARTS, part: wrong})
    assert len(problems) == 1, problems
    with pytest.raises(AssertionError, match="the message 'layer 2: W has shape"):
        assert_message(ValueError(MESSAGE), **{**PARTS, part: wrong})


def test_a_quantity_is_a_whole_word() -> None:
    """ "b" is not named by "dE/db", nor "W" by "dE/dW"."""
    message = "layer 2: dE/db has shape (3,), but should be (1,), the shape of b"
    assert message_problems(message, quantity="dE/db") == []
    assert message_problems(message, quantity="b") != []


def test_expected_needs_the_but_of_the_message_form() -> None:
    assert message_problems("epochs = -1 should be >= 0", expected=">= 0") != []
    assert message_problems("epochs = -1, but should be >= 0", got="-1", expected=">= 0") == []


@pytest.mark.parametrize(
    ("part", "value"),
    [("got", "(5, 5)"), ("expected", "(4, 5)"), ("shapes", [(4, 5)]), ("mentions", ["width 4"])],
)
def test_a_part_glued_to_other_letters_is_not_found(part: str, value) -> None:
    """A fragment must stand as whole words: text glued onto it makes another message."""
    glued = MESSAGE.replace("(5, 5)", "(5, 5)XX").replace("(4, 5)", "XX(4, 5)")
    glued = glued.replace("width 4", "width 4XX")
    assert message_problems(MESSAGE, **{part: value}) == []
    assert len(message_problems(glued, **{part: value})) == 1
