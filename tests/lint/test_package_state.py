"""Module-level state is a property of the package: a name is state if another module of the same
top-level package mutates or rebinds it, whichever files were named on the command line."""

from __future__ import annotations

from pathlib import Path

from tests.lint.test_lint_support import check_tree

REGISTRY = """\
    _handlers = {}
    _enabled = False

    def handler(name):
        return _handlers.get(name)
    """


def test_a_mutation_from_a_sibling_module_makes_a_name_state(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/registry.py": REGISTRY,
        "app/plugins.py": """\
            from app.registry import _handlers

            def install(name, fn):
                _handlers[name] = fn
            """,
    }
    assert check_tree(tmp_path, files) == ["app/registry.py:1 ARB001"]


def test_the_sibling_is_read_even_when_only_the_defining_file_is_checked(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/registry.py": REGISTRY,
        "app/sub/__init__.py": "",
        "app/sub/plugins.py": """\
            from .. import registry

            def install(name, fn):
                registry._handlers.setdefault(name, fn)
            """,
    }
    assert check_tree(tmp_path, files, "app/registry.py") == ["app/registry.py:1 ARB001"]


def test_rebinding_through_the_module_attribute_makes_any_name_state(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/registry.py": REGISTRY,
        "app/toggle.py": """\
            import app.registry as registry

            def enable():
                registry._enabled = True
            """,
    }
    assert check_tree(tmp_path, files) == ["app/registry.py:2 ARB001"]


def test_import_time_initialisation_by_a_sibling_counts(tmp_path: Path) -> None:
    # Registration at import time from another module is still state kept for that module.
    files = {
        "app/__init__.py": "",
        "app/registry.py": REGISTRY,
        "app/builtin.py": "from app import registry\nregistry._handlers['echo'] = print\n",
    }
    assert check_tree(tmp_path, files) == ["app/registry.py:1 ARB001"]


def test_another_top_level_package_does_not_count(tmp_path: Path) -> None:
    # Tests poking at a library's constants (e.g. to prove they are frozen) are not its state.
    files = {
        "app/__init__.py": "",
        "app/registry.py": REGISTRY,
        "tests/__init__.py": "",
        "tests/test_registry.py": """\
            from app import registry

            def test_poke():
                registry._handlers["x"] = 1
                registry._enabled = True
            """,
    }
    assert check_tree(tmp_path, files) == []


def test_reading_from_a_sibling_is_not_state(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/registry.py": REGISTRY,
        "app/use.py": """\
            from app.registry import _handlers

            def names():
                return sorted(_handlers) + [_handlers.get("x")]
            """,
    }
    assert check_tree(tmp_path, files) == []


def test_a_file_outside_any_package_is_its_own_package(tmp_path: Path) -> None:
    files = {"script.py": "_seen = set()\n\ndef see(x):\n    _seen.add(x)\n", "other.py": "x = 1\n"}
    assert check_tree(tmp_path, files) == ["script.py:1 ARB001"]


def test_the_check_never_imports_the_code_it_checks(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    files = {
        "app/__init__.py": f"open({str(marker)!r}, 'w').close()\n",
        "app/boom.py": f"open({str(marker)!r}, 'w').close()\nraise SystemExit('imported!')\n",
    }
    assert check_tree(tmp_path, files) == []
    assert not marker.exists()
