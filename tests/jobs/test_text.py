"""Cleaning log text: colour codes, progress bars, control characters, very long lines."""

from jobs.logs.text import MAX_LINE, clean_line, split_lines


def test_colour_codes_are_stripped():
    assert clean_line("\x1b[1;31mERROR\x1b[0m odoo.modules: \x1b[32mok\x1b[0m") == "ERROR odoo.modules: ok"


def test_osc_title_and_hyperlinks_are_stripped():
    assert clean_line("\x1b]0;title\x07see \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "see link"


def test_progress_bar_keeps_what_the_terminal_shows_last():
    assert clean_line("10%\r50%\r100% done\r") == "100% done"


def test_control_characters_go_tabs_stay():
    assert clean_line("a\x00b\x07c\td") == "abc\td"


def test_long_lines_are_cut_with_a_mark():
    line = "x" * (MAX_LINE + 12345)
    cleaned = clean_line(line)
    assert cleaned.startswith("x" * MAX_LINE)
    assert cleaned.endswith(" …[cut 12345 chars]")
    assert clean_line("y" * MAX_LINE) == "y" * MAX_LINE


def test_text_splits_into_lines_without_an_empty_last_one():
    assert split_lines("one\r\ntwo\nthree\n") == ["one", "two", "three"]
    assert split_lines("") == [""]
