"""Rendering of ``dashboards.panels`` values into Grafana's Classic JSON model.

Two ways of loading must both work, so no panel names a datasource uid:
- import from the UI: ``__inputs`` declares ``DS_PROMETHEUS``; the only place it is used is the
  default of the ``datasource`` variable, which Grafana sets to the data source picked on import;
- file provisioning: nothing substitutes ``${DS_PROMETHEUS}``, so the variable's default matches
  no data source and Grafana falls back to the default Prometheus one.
Every panel and target reads ``${datasource}``, which exists in both modes.
"""

from __future__ import annotations

from collections.abc import Iterator

from dashboards.panels import SEL, Dashboard, Json, Panel, Row, Target

SCHEMA_VERSION = 39
GRAFANA_VERSION = "10.4.0"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

VARIABLE_QUERIES = {
    "job": "label_values(observe_sampler_up, job)",
    "instance": 'label_values(observe_sampler_up{job=~"$job"}, instance)',
    "service": 'label_values(observe_container_info{job=~"$job", instance=~"$instance"}, service)',
    "container": 'label_values(observe_container_info{job=~"$job", instance=~"$instance", service=~"$service"}, name)',
    "autoscale_service": 'label_values(observe_autoscale_current_replicas{job=~"$job", instance=~"$instance"}, '
                         'service)',
}
VARIABLE_LABELS = {"job": "Job", "instance": "Host", "service": "Service", "container": "Container",
                   "autoscale_service": "Service"}


def datasource_variable() -> Json:
    return {
        "current": {"selected": False, "text": "${DS_PROMETHEUS}", "value": "${DS_PROMETHEUS}"},
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": "datasource",
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
        "type": "datasource",
    }


def query_variable(key: str) -> Json:
    """A multi-select query variable with "All" meaning any value (``.+``), as dashboard-linter asks."""
    name = "service" if key == "autoscale_service" else key
    query = VARIABLE_QUERIES[key]
    return {
        "allValue": ".+",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "datasource": dict(DATASOURCE),
        "definition": query,
        "hide": 0,
        "includeAll": True,
        "label": VARIABLE_LABELS[key],
        "multi": True,
        "name": name,
        "options": [],
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
        "type": "query",
    }


def _field_config(p: Panel) -> Json:
    defaults: Json = {
        "color": {"mode": "palette-classic"},
        "mappings": [],
        "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}]},
        "unit": p.unit,
    }
    if p.low is not None:
        defaults["min"] = p.low
    if p.high is not None:
        defaults["max"] = p.high
    if p.no_value is not None:
        defaults["noValue"] = p.no_value
    if p.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line", "lineInterpolation": "linear", "lineWidth": 1, "fillOpacity": 10,
            "showPoints": "never", "spanNulls": False, "axisPlacement": "auto", "axisLabel": "",
            "stacking": {"mode": "normal" if p.stack else "none", "group": "A"},
        }
    elif p.kind == "stat":
        defaults["color"] = {"mode": "thresholds"}
    elif p.kind == "state-timeline":
        defaults["custom"] = {"fillOpacity": 70, "lineWidth": 0}
    return {"defaults": defaults, "overrides": []}


def _options(p: Panel) -> Json:
    if p.kind == "stat":
        return {"colorMode": "value", "graphMode": "area", "justifyMode": "auto", "orientation": "auto",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "textMode": "auto"}
    if p.kind == "timeseries":
        return {"legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"}}
    return dict(p.options)


def _target(t: Target, ref: str) -> Json:
    return {"datasource": dict(DATASOURCE), "editorMode": "code", "expr": t.expr, "instant": t.instant,
            "legendFormat": t.legend or "__auto", "range": not t.instant, "refId": ref}


def _layout(items: tuple[Panel | Row, ...]) -> Iterator[Json]:
    """Panels left to right, wrapping at 24 columns; a row starts a new line."""
    x = y = line_h = 0
    for n, item in enumerate(items, start=1):
        if isinstance(item, Row):
            y += line_h
            yield {"collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "id": n, "panels": [],
                   "title": item.title, "type": "row"}
            x, y, line_h = 0, y + 1, 0
            continue
        if x + item.width > 24:
            x, y, line_h = 0, y + line_h, 0
        yield {
            "datasource": dict(DATASOURCE),
            "description": item.description,
            "fieldConfig": _field_config(item),
            "gridPos": {"h": item.height, "w": item.width, "x": x, "y": y},
            "id": n,
            "options": _options(item),
            "targets": [_target(t, chr(ord("A") + i)) for i, t in enumerate(item.targets)],
            "title": item.title,
            "type": item.kind,
        }
        x += item.width
        line_h = max(line_h, item.height)


PANEL_NAMES = {"timeseries": "Time series", "stat": "Stat", "state-timeline": "State timeline"}


RUNNING = 'observe_container_info{' + SEL + ', service=~"$service", state="running"}'
DEPLOY_WINDOW = "5m"
# A deploy: a service that ran before now runs an (image, image_id) it did not run DEPLOY_WINDOW ago; image_id
# changes also when a tag is rebuilt. observe logs the same change as ServiceImageChanged.
DEPLOYS = (f"count by (job, instance, service, image, image_id) ({RUNNING}) "
           f"unless count by (job, instance, service, image, image_id) ({RUNNING} offset {DEPLOY_WINDOW}) "
           f"and on(job, instance, service) count by (job, instance, service) "
           f"(observe_container_info{{{SEL}, service=~\"$service\"}} offset {DEPLOY_WINDOW})")


def deploy_annotation() -> Json:
    """Deploy markers on every dashboard: an annotation where a service's replicas moved to another image."""
    return {
        "datasource": dict(DATASOURCE), "enable": True, "hide": False, "iconColor": "#FF9830",
        "name": "Deploys", "expr": DEPLOYS, "step": "30s", "titleFormat": "Deploy: {{service}}",
        "textFormat": "{{image}} ({{image_id}}) on {{instance}}", "tagKeys": "service,instance",
        "useValueForTime": False,
    }


def render(d: Dashboard) -> Json:
    """The dashboard in Grafana's Classic JSON model, ready to import or provision."""
    kinds = sorted({i.kind for i in d.items if isinstance(i, Panel)})
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "Prometheus scraping observe",
                      "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": GRAFANA_VERSION},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            *({"type": "panel", "id": k, "name": PANEL_NAMES[k], "version": ""} for k in kinds),
        ],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"},
            deploy_annotation()]},
        "description": d.description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [{"asDropdown": True, "icon": "external link", "includeVars": True, "keepTime": True,
                   "tags": ["observe"], "targetBlank": False, "title": "observe", "tooltip": "", "type": "dashboards",
                   "url": ""}],
        "panels": list(_layout(d.items)),
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["observe", "docker"],
        "templating": {"list": [datasource_variable() if v == "datasource" else query_variable(v)
                                for v in d.variables]},
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": d.title,
        "uid": d.uid,
        "version": 1,
        "weekStart": "",
    }
