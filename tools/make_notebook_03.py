"""Write notebooks/03_scenarios.ipynb (without outputs) from the cell texts below."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from nbtools import write_notebook  # noqa: E402

CELLS = [
    ("markdown", None, """# Ennakointi: skenaarioiden ja osaamisprofiilien vertailu

Varsinais-Suomen Ennakointiakatemian neljä meriklusterin skenaariota (Blue Hub, Kituva Varsinais-Suomi, Vakaa Varsinais-Suomi, Taivaan laser) tulevaisuustaulukkona, PESTE-profiileina ja ristikkäisyhteensopivuuden tarkistuksena; Vakaa-skenaarion osaamisprofiili 2030 neljällä tehtävätasolla; vuoden 2023 budjetti sekä maakunnan väestökehitys seutukunnittain. Muut skenaariojoukot samassa YAML-muodossa käyvät parametrilla `scenario_file`.

*Foresight: the four maritime-cluster scenarios as a futures table, PESTE profiles and a cross-consistency check; the 2030 competence profile at four job levels; the 2023 budget; population by sub-region. Any scenario set in the same YAML format runs through the `scenario_file` parameter.*"""),
    ("code", ["parameters"], """lang: str = "fi"  # fi, sv or en
scenario_file: str = "scenarios/varsinais-suomi/maritime_2030.yml"  # foresight model under data/raw (format: kuntalib.scenarios.model)
competence_file: str = "scenarios/varsinais-suomi/competence_profile_2030.yml"  # competence profile under data/raw; "" for none
budget_file: str = "scenarios/varsinais-suomi/budget_2023.csv"  # budget CSV under data/raw; "" for none
budget_year: int = 2023  # year named in the budget chart title
population_file: str = "scenarios/varsinais-suomi/population_subregions.csv"  # population by sub-region under data/raw; "" for none
max_field: int = 5000000  # enumerate the morphological field only up to this many configurations"""),
    ("code", None, """import matplotlib.pyplot as plt

from kuntalib import theme
from kuntalib.outputs import save_figure, save_table
from kuntalib.provenance import open_raw
from kuntalib.scenarios import (consistency, futures_table, level_overlap, load_budget, load_model, load_population,
                                load_profile, population_change, scenario_distance, sector_profile, shared_skills, type_counts)
from kuntalib.scenarios import charts

NOTEBOOK = "03_scenarios"
theme.set_theme()


def labelled(df, synthetic):
    \"\"\"Tables drawn from synthetic data say so in a column.\"\"\"
    return df.assign(synthetic=True) if synthetic else df"""),
    ("code", None, """path, prov = open_raw(*scenario_file.split("/"))
model = load_model(path)
synthetic = model.synthetic or prov.synthetic
print(prov.citation(), "— SYNTHETIC" if synthetic else "")
table = futures_table(model, lang)
save_table(labelled(table, synthetic), "futures_table", notebook=NOTEBOOK, lang=lang)
table[["variable", "scenario", "state", "score", "quote"]].head(12)"""),
    ("markdown", None, "## Tulevaisuustaulukko / Futures table"),
    ("code", None, """ax = charts.plot_futures_table(model, lang=lang)
save_figure(ax, "futures_table", notebook=NOTEBOOK, lang=lang)
plt.show()"""),
    ("markdown", None, "## PESTE-profiilit / PESTE profiles"),
    ("code", None, """profile = sector_profile(model, lang)
save_table(labelled(profile, synthetic), "sector_profile", notebook=NOTEBOOK, lang=lang)
ax = charts.plot_sector_profile(model, lang=lang)
save_figure(ax, "sector_profile", notebook=NOTEBOOK, lang=lang)
plt.show()
distance = scenario_distance(model).round(2)
save_table(labelled(distance.reset_index(names="scenario_id"), synthetic), "scenario_distance", notebook=NOTEBOOK, lang=lang)
distance"""),
    ("markdown", None, "## Ristikkäisyhteensopivuus / Cross-consistency"),
    ("code", None, """result = consistency(model, lang=lang, max_field=max_field)
print(result.summary())
save_table(labelled(result.to_frame(), synthetic), "consistency_scores", notebook=NOTEBOOK, lang=lang)
save_table(labelled(result.pairs, synthetic), "consistency_pairs", notebook=NOTEBOOK, lang=lang)
ax = charts.plot_consistency(result, model, lang=lang)
save_figure(ax, "consistency", notebook=NOTEBOOK, lang=lang)
plt.show()
result.pairs"""),
    ("markdown", None, "## Osaamisprofiilit / Competence profiles"),
    ("code", None, """if competence_file:
    cpath, cprov = open_raw(*competence_file.split("/"))
    comp = load_profile(cpath, model)
    csyn = comp.synthetic or cprov.synthetic
    save_table(labelled(type_counts(comp, lang).reset_index(names="level"), csyn), "competence_counts", notebook=NOTEBOOK, lang=lang)
    save_table(labelled(shared_skills(comp, lang), csyn), "competence_shared", notebook=NOTEBOOK, lang=lang)
    save_table(labelled(level_overlap(comp).round(3).reset_index(names="level"), csyn), "competence_overlap", notebook=NOTEBOOK, lang=lang)
    ax = charts.plot_competence_matrix(comp, lang=lang)
    save_figure(ax, "competence_matrix", notebook=NOTEBOOK, lang=lang)
    plt.show()
    ax = charts.plot_level_overlap(comp, lang=lang)
    save_figure(ax, "competence_overlap", notebook=NOTEBOOK, lang=lang)
    plt.show()
    display(shared_skills(comp, lang))"""),
    ("markdown", None, "## Budjetti / Budget"),
    ("code", None, """if budget_file:
    bpath, bprov = open_raw(*budget_file.split("/"))
    budget = load_budget(bpath)
    save_table(labelled(budget.to_frame(lang), bprov.synthetic), "budget", notebook=NOTEBOOK, lang=lang)
    ax = charts.plot_budget(budget, lang=lang, year=budget_year, source=bprov.citation(), synthetic=bprov.synthetic)
    save_figure(ax, "budget", notebook=NOTEBOOK, lang=lang)
    plt.show()
    print(f"planned {budget.planned_total:.0f} €, actual {budget.actual_total:.0f} €, utilisation {budget.utilisation:.0%}")"""),
    ("markdown", None, "## Väestö seutukunnittain / Population by sub-region"),
    ("code", None, """if population_file:
    ppath, pprov = open_raw(*population_file.split("/"))
    pop = load_population(ppath)
    change = population_change(pop, lang)
    save_table(labelled(change.round(2), pprov.synthetic), "population_change", notebook=NOTEBOOK, lang=lang)
    ax = charts.plot_population(pop, lang=lang, source=pprov.citation(), synthetic=pprov.synthetic)
    save_figure(ax, "population", notebook=NOTEBOOK, lang=lang)
    plt.show()
    display(change.round(1))"""),
]


if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "notebooks" / "03_scenarios.ipynb"
    write_notebook(CELLS, out)
    print(out)
