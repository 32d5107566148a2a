"""{% site_charts site %} and {% jobs_per_day_chart %}: the charts drawn where they are shown, so
that a page's partial refreshes (htmx) never pay for them."""

from typing import Any

from django import template

from clusters import charts

register = template.Library()


@register.inclusion_tag("clusters/partials/site_charts.html")
def site_charts(site: Any) -> dict[str, Any]:
    return {"charts": [charts.module_updates(site), charts.deploys(site)]}


@register.inclusion_tag("includes/bar_chart.html")
def jobs_per_day_chart() -> dict[str, Any]:
    return {"chart": charts.jobs_per_day()}
