"""The console's shared template pieces (templates/_macros.html) and paging helpers, rendered
through the app's own template configuration."""

from __future__ import annotations

from typing import Any

from fleet_http.console import template_config
from fleet_http.console.pages import PageInfo, current_area, field_errors

CONTEXT = {"csrf_token": "f00d", "csrf_field_name": "csrf_token"}


def render(source: str, **context: Any) -> str:
    engine = template_config().engine_instance
    assert engine is not None
    return engine.render_string('{% import "_macros.html" as m with context %}' + source, {**CONTEXT, **context})


def test_a_form_field_is_labelled_escaped_and_shows_its_error() -> None:
    out = render('{{ m.form_field("name", "Name", value=v, errors=e) }}',
                 v='"><script>x()</script>', e={"name": "cannot be <empty>"})
    assert '<label for="field-name">Name</label>' in out
    assert "<script>" not in out and "&lt;script&gt;" in out and "&#34;&gt;" in out
    assert 'aria-invalid="true"' in out and 'aria-describedby="field-name-error' in out
    assert "Name: cannot be &lt;empty&gt;" in out


def test_a_password_field_never_echoes_its_value() -> None:
    out = render('{{ m.form_field("password", "Password", type="password", value="secret-value") }}')
    assert "secret-value" not in out


def test_the_delete_form_posts_with_the_csrf_token_and_asks_first() -> None:
    out = render('{{ m.confirm_delete("/hosts/3/delete", "host <b>") }}')
    assert 'method="post" action="/hosts/3/delete"' in out
    assert '<input type="hidden" name="csrf_token" value="f00d">' in out
    assert 'data-confirm="Delete host &lt;b&gt;? This cannot be undone."' in out


def test_the_paged_table_shows_rows_or_its_empty_text_and_the_pager() -> None:
    page = PageInfo(page=1, per_page=2, total=5, count=2, base_query="status=online")
    out = render('{% call m.paged_table("Hosts", ["Name"], page) %}<tr><td>a</td></tr>{% endcall %}', page=page)
    assert "<caption>Hosts</caption>" in out and "<td>a</td>" in out
    assert 'href="?status=online&amp;page=0&amp;per_page=2" rel="prev"' in out
    assert 'href="?status=online&amp;page=2&amp;per_page=2" rel="next"' in out
    assert "Page 2 of 3" in out
    empty = render('{% call m.paged_table("Hosts", ["Name"], empty="None yet.") %}{% endcall %}')
    assert '<td colspan="1" class="empty">None yet.</td>' in empty


def test_paging_without_a_total_goes_on_while_pages_are_full() -> None:
    assert PageInfo(page=0, per_page=10, total=None, count=10).has_next
    assert not PageInfo(page=0, per_page=10, total=None, count=9).has_next
    assert not PageInfo(page=2, per_page=10, total=30, count=10).has_next
    assert PageInfo(page=0, per_page=10, total=0, count=0).pages == 1


def test_a_path_belongs_to_its_area_of_the_navigation() -> None:
    assert current_area("/") == "/"
    assert current_area("/hosts/12") == "/hosts"
    assert current_area("/hostsx") == "/"
    assert current_area("/login") == "/"


def test_nested_api_field_names_map_to_form_fields() -> None:
    assert field_errors([("admin.email", "bad"), ("email", "later"), ("org_info.org_name", "empty")]) == {
        "email": "bad", "org_name": "empty"}
