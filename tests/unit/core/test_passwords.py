"""Password rules: 12 to 48 characters, a number, and two of lowercase, uppercase and symbols."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleet_core.rules.passwords import check_password, is_valid_email, password_problems


@given(st.text(max_size=60))
def test_a_password_is_accepted_exactly_when_every_rule_holds(password: str) -> None:
    classes = (any(c.islower() for c in password), any(c.isupper() for c in password),
               any(not (c.isalnum() or c.isspace()) for c in password))
    valid = 12 <= len(password) <= 48 and any(c.isdigit() for c in password) and sum(classes) >= 2
    assert (password_problems(password) == []) is valid


@given(st.text(max_size=60))
def test_problems_name_the_field_once(password: str) -> None:
    problems = check_password("new_password", password)
    assert len(problems) <= 1
    assert all(name == "new_password" for name, _ in problems)


def test_each_broken_rule_is_explained() -> None:
    assert password_problems("short") == [
        "must be at least 12 characters long", "must contain at least 1 number",
        "must mix at least two of lowercase letters, uppercase letters and symbols"]
    assert password_problems("a" * 49 + "1!") == ["must be at most 48 characters long"]
    assert password_problems("password1234") == [
        "must mix at least two of lowercase letters, uppercase letters and symbols"]


def test_the_api_documents_example_passwords_are_accepted() -> None:
    for example in ("VArCjNW7CfsxGp67", "zGq7mCLA6z4PzArC", "sdPz8CV5YhzH47nK", "password!234"):
        assert password_problems(example) == [], example


def test_emails_need_a_local_part_a_domain_and_a_dot() -> None:
    assert is_valid_email("jane@example.com")
    for bad in ("", "jane", "jane@", "@example.com", "jane@example", "ja ne@example.com"):
        assert not is_valid_email(bad)
