"""matplotlib for the analysis figures, imported only when one is drawn (the
package imports without it)."""


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (figures are
    written to files, no display needed)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt
