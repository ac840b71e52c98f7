import matplotlib as mpl
import matplotlib.pyplot as plt
import pytest

from kuntalib import paths, theme
from kuntalib.i18n import check_lang, pick


def test_finnish_number_formats():
    assert theme.fmt_pct(58) == "58\u00a0%"
    assert theme.fmt_pct(52.46, 1) == "52,5\u00a0%"
    assert theme.fmt_num(3099) == "3\u00a0099"
    assert theme.fmt_num(1.5, 1) == "1,5"
    assert theme.fmt_num(-25) == "−25"
    assert theme.fmt_num(float("nan")) == "–"


def test_lang_checks_and_fallback():
    assert pick({"fi": "Asukasluku", "sv": "", "en": "Population"}, "sv") == "Asukasluku"
    assert pick({"fi": "Asukasluku", "en": "Population"}, "en") == "Population"
    with pytest.raises(ValueError, match="lang must be one of"):
        check_lang("de")


def test_theme_fixes_svg_ids_and_percent_axis():
    theme.set_theme()
    assert mpl.rcParams["svg.hashsalt"] == "kuntalib"
    fig, ax = plt.subplots()
    ax.set_xlim(0, 100)
    theme.percent_axis(ax, "x")
    assert ax.xaxis.get_major_formatter()(40, 0) == "40\u00a0%"


def test_paths_follow_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KUNTALIB_ROOT", str(tmp_path))
    monkeypatch.delenv("KUNTALIB_OUTPUTS", raising=False)
    assert paths.data_raw() == tmp_path.resolve() / "data" / "raw"
    assert paths.figures_dir("nb", "sv") == tmp_path.resolve() / "outputs" / "figures" / "nb" / "sv"
    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "elsewhere"))
    assert paths.site_dir() == (tmp_path / "elsewhere").resolve() / "site"


def test_save_figure_is_byte_identical(tmp_path, monkeypatch):
    from kuntalib.outputs import save_figure

    monkeypatch.setenv("KUNTALIB_ROOT", str(tmp_path))
    theme.set_theme()
    digests = []
    for _ in range(2):
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        png, svg = save_figure(ax, "line", notebook="t", lang="fi")
        digests.append((png.read_bytes(), svg.read_bytes()))
        plt.close(fig)
    assert digests[0] == digests[1]
    assert b"<dc:date>" not in digests[0][1]
    with pytest.raises(ValueError, match="plain file stem"):
        save_figure(ax, "../x", notebook="t", lang="fi")


def test_raw_paths_stay_under_data_raw(tmp_path, monkeypatch):
    monkeypatch.setenv("KUNTALIB_ROOT", str(tmp_path))
    assert paths.raw_file("topic/x.csv") == paths.raw_file("topic", "x.csv") == tmp_path.resolve() / "data/raw/topic/x.csv"
    for bad in ("../x.csv", "topic/../../x.csv", "/etc/passwd", ""):
        with pytest.raises(ValueError, match="not a file path under"):
            paths.raw_file(bad)


def test_save_table_labels_synthetic_and_refuses_identifiers(tmp_path, monkeypatch):
    import pandas as pd

    from kuntalib.outputs import save_table

    monkeypatch.setenv("KUNTALIB_ROOT", str(tmp_path))
    df = pd.DataFrame({"vendor": ["A"], "persons": [7]})
    plain = save_table(df, "t", notebook="nb", lang="fi")
    assert plain.read_text(encoding="utf-8") == "vendor,persons\nA,7\n"
    synth = save_table(df, "t", notebook="nb", lang="sv", synthetic=True)
    assert synth.read_text(encoding="utf-8") == "vendor,persons,synthetic\nA,7,True\n"
    with pytest.raises(ValueError, match="'patient' identifies"):
        save_table(df.assign(patient="p1"), "t", notebook="nb", lang="fi")


def test_theme_is_seaborns_whitegrid_without_importing_seaborn():
    import subprocess
    import sys

    code = ("import sys, matplotlib as mpl; from kuntalib import theme; theme.set_theme(); "
            "print('seaborn' in sys.modules, 'scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]  # the notebooks' first cell stays quick
    import seaborn as sns

    mpl.rcdefaults()
    sns.set_theme(style="whitegrid", palette=list(theme.PALETTE.values()))
    mpl.rcParams.update(theme.KUNTALIB_RC)
    expected = {k: v for k, v in mpl.rcParams.items() if k != "image.cmap"}  # seaborn's colormap: charts name theirs
    mpl.rcdefaults()
    theme.set_theme()
    actual = dict(mpl.rcParams)
    assert {k: (actual[k], v) for k, v in expected.items() if actual[k] != v} == {}
    mpl.rcdefaults()
