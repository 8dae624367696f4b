"""research/tests: the research code against the installed package."""
import ppdet_ghm  # noqa: F401  (registers the modules configs name)
