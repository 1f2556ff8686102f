/*
 * describe.c - the /workflows/blocks/describe document, shaped like
 * Roboflow's WorkflowsBlocksDescription: {"blocks": [BlockDescription...],
 * "declared_kinds", "kinds_connections", "primitives_connections",
 * "universal_query_language_description", "dynamic_block_definition_schema"}.
 * Each block's "block_schema" is the pydantic-style JSON schema of its
 * manifest, generated from the same property table the compiler validates
 * with, so the two cannot disagree.
 *
 * Does not: describe dynamic (Python) blocks or the query language.
 */
#include <ctype.h>
#include <string.h>

#include "workflow/workflow.h"

#define SELECTOR_PATTERN                                                                           \
    "(^\\$steps\\.[A-Za-z_\\-0-9]+\\.[A-Za-z_*0-9\\-]+$)|(^\\$inputs.[A-Za-z_0-9\\-]+$)"

static json_t *kind_json(const char *name)
{
    const struct wf_kind *k = wf_kind_find(name);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "description", k ? json_string(k->description) : json_null());
    json_object_set_new(o, "docs", k ? json_string(k->docs) : json_null());
    json_object_set_new(o, "serialised_data_type",
                        k && k->serialised_data_type ? json_string(k->serialised_data_type)
                                                     : json_null());
    json_object_set_new(o, "internal_data_type",
                        k && k->internal_data_type ? json_string(k->internal_data_type)
                                                   : json_null());
    return o;
}

static json_t *kinds_json(const char *const *kinds)
{
    json_t *a = json_array();
    for (const char *const *k = kinds; k && *k; k++) json_array_append_new(a, kind_json(*k));
    return a;
}

static json_t *selector_schema(const struct wf_prop *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("string"));
    json_object_set_new(o, "pattern", json_string(SELECTOR_PATTERN));
    json_object_set_new(o, "reference", json_true());
    json_object_set_new(o, "selected_element", json_string("any_data"));
    json_object_set_new(o, "kind", kinds_json(p->kinds));
    json_object_set_new(o, "selector_points_to_batch",
                        p->batch ? json_true() : json_string("dynamic"));
    return o;
}

static json_t *literal_schemas(const struct wf_prop *p)
{
    json_t *a = json_array();
    json_t *o = json_object();
    switch (p->type) {
    case WF_P_SELECTOR_ONLY:
        json_decref(o);
        return a;
    case WF_P_STR:
    case WF_P_OPT_STR:
        json_object_set_new(o, "type", json_string("string"));
        break;
    case WF_P_FLOAT01:
    case WF_P_OPT_FLOAT01:
        json_object_set_new(o, "maximum", json_real(1.0));
        json_object_set_new(o, "minimum", json_real(0.0));
        json_object_set_new(o, "type", json_string("number"));
        break;
    case WF_P_BOOL:
        json_object_set_new(o, "type", json_string("boolean"));
        break;
    case WF_P_ENUM: {
        json_t *e = json_array();
        for (const char *const *v = p->enum_values; *v; v++)
            json_array_append_new(e, json_string(*v));
        json_object_set_new(o, "enum", e);
        json_object_set_new(o, "type", json_string("string"));
        break;
    }
    case WF_P_POS_INT:
        json_object_set_new(o, "exclusiveMinimum", json_integer(0));
        json_object_set_new(o, "type", json_string("integer"));
        break;
    }
    json_array_append_new(a, o);
    if (p->type == WF_P_OPT_STR || p->type == WF_P_OPT_FLOAT01) {
        json_t *n = json_object();
        json_object_set_new(n, "type", json_string("null"));
        json_array_append_new(a, n);
    }
    return a;
}

static void title_of(const char *name, char *out, size_t cap)
{
    size_t k = 0;
    int up = 1;
    for (const char *c = name; *c && k + 1 < cap; c++) {
        if (*c == '_') {
            out[k++] = ' ';
            up = 1;
        } else {
            out[k++] = up ? (char)toupper((unsigned char)*c) : *c;
            up = 0;
        }
    }
    out[k] = '\0';
}

static void merge_json_text(json_t *into, const char *text)
{
    if (!text) return;
    json_t *x = json_loads(text, 0, NULL);
    if (x) json_object_update(into, x);
    if (x) json_decref(x);
}

static json_t *prop_schema(const struct wf_prop *p)
{
    json_t *o = json_object();
    json_t *lits = literal_schemas(p);
    if (p->type == WF_P_SELECTOR_ONLY) {
        json_decref(lits);
        json_t *s = selector_schema(p);
        json_object_update(o, s);
        json_decref(s);
    } else {
        json_t *any = json_array();
        if (p->type == WF_P_STR) { /* Union[Selector, str]: selector first */
            json_array_append_new(any, selector_schema(p));
            json_array_extend(any, lits);
        } else {
            json_array_extend(any, lits);
            if (p->kinds) json_array_append_new(any, selector_schema(p));
        }
        json_decref(lits);
        json_object_set_new(o, "anyOf", any);
    }
    if (p->default_json)
        json_object_set_new(o, "default", json_loads(p->default_json, JSON_DECODE_ANY, NULL));
    json_object_set_new(o, "description", json_string(p->description));
    if (p->examples_json) json_object_set_new(o, "examples", json_loads(p->examples_json, 0, NULL));
    char title[64];
    if (p->title)
        snprintf(title, sizeof title, "%s", p->title);
    else
        title_of(p->name, title, sizeof title);
    json_object_set_new(o, "title", json_string(title));
    merge_json_text(o, p->schema_extra_json);
    return o;
}

static json_t *block_schema(const struct wf_block_vtbl *vt)
{
    json_t *o = json_object(), *props = json_object(), *req = json_array();
    merge_json_text(o, vt->schema_extra_json);
    json_t *ty = json_object(), *en = json_array();
    json_array_append_new(en, json_string(vt->type));
    for (const char *const *a = vt->aliases; a && *a; a++)
        json_array_append_new(en, json_string(*a));
    json_object_set_new(ty, "enum", en);
    json_object_set_new(ty, "title", json_string("Type"));
    json_object_set_new(ty, "type", json_string("string"));
    json_object_set_new(props, "type", ty);
    json_t *nm = json_object();
    json_object_set_new(nm, "description", json_string("Enter a unique identifier for this step."));
    json_object_set_new(nm, "title", json_string("Step Name"));
    json_object_set_new(nm, "type", json_string("string"));
    json_object_set_new(props, "name", nm);
    json_array_append_new(req, json_string("type"));
    json_array_append_new(req, json_string("name"));
    for (int i = 0; i < vt->n_props; i++) {
        json_object_set_new(props, vt->props[i].name, prop_schema(&vt->props[i]));
        if (vt->props[i].required) json_array_append_new(req, json_string(vt->props[i].name));
    }
    json_object_set_new(o, "properties", props);
    json_object_set_new(o, "required", req);
    json_object_set_new(o, "title", json_string("BlockManifest"));
    json_object_set_new(o, "type", json_string("object"));
    return o;
}

static json_t *block_json(const struct wf_block_vtbl *vt)
{
    json_t *o = json_object();
    json_object_set_new(o, "block_schema", block_schema(vt));
    json_t *outs = json_array();
    for (int i = 0; i < vt->n_outputs; i++) {
        json_t *d = json_object();
        json_object_set_new(d, "name", json_string(vt->outputs[i].name));
        json_object_set_new(d, "kind", kinds_json(vt->outputs[i].kinds));
        json_array_append_new(outs, d);
    }
    json_object_set_new(o, "outputs_manifest", outs);
    json_object_set_new(o, "block_source", json_string("workflows_core"));
    json_object_set_new(o, "fully_qualified_block_class_name", json_string(vt->fqcn));
    json_object_set_new(o, "human_friendly_block_name", json_string(vt->human_name));
    json_object_set_new(o, "manifest_type_identifier", json_string(vt->type));
    json_t *al = json_array();
    for (const char *const *a = vt->aliases; a && *a; a++)
        json_array_append_new(al, json_string(*a));
    json_object_set_new(o, "manifest_type_identifier_aliases", al);
    json_object_set_new(o, "execution_engine_compatibility", json_string(">=1.3.0,<2.0.0"));
    json_object_set_new(o, "input_dimensionality_offsets", json_object());
    json_object_set_new(o, "dimensionality_reference_property", json_null());
    json_object_set_new(o, "output_dimensionality_offset", json_integer(0));
    if (vt == &wf_block_mlc_v1 || vt == &wf_block_mlc_v2 || vt == &wf_block_mlc_v3) {
        json_t *tt = json_array();
        json_array_append_new(tt, json_string("multi-label-classification"));
        json_object_set_new(o, "compatible_task_types", tt);
    }
    return o;
}

static json_t *describe_doc(void)
{
    json_t *doc = json_object(), *blocks = json_array(), *kinds = json_array();
    json_t *kc = json_object(), *prims = json_array();
    for (int b = 0; b < wf_n_blocks; b++) json_array_append_new(blocks, block_json(wf_blocks[b]));
    for (int k = 0; k < wf_n_kinds; k++) json_array_append_new(kinds, kind_json(wf_kinds[k].name));
    for (int k = 0; k < wf_n_kinds; k++) {
        json_t *list = json_array();
        for (int b = 0; b < wf_n_blocks; b++) {
            const struct wf_block_vtbl *vt = wf_blocks[b];
            for (int i = 0; i < vt->n_props; i++) {
                const struct wf_prop *p = &vt->props[i];
                int hit = 0;
                for (const char *const *pk = p->kinds; pk && *pk; pk++)
                    if (!strcmp(*pk, wf_kinds[k].name) || !strcmp(wf_kinds[k].name, "*")) hit = 1;
                if (!hit) continue;
                json_t *c = json_object();
                json_object_set_new(c, "manifest_type_identifier", json_string(vt->type));
                json_object_set_new(c, "property_name", json_string(p->name));
                json_object_set_new(c, "property_description", json_string(p->description));
                json_object_set_new(c, "compatible_element", json_string("any_data"));
                json_object_set_new(c, "is_list_element", json_false());
                json_object_set_new(c, "is_dict_element", json_false());
                json_array_append_new(list, c);
            }
        }
        json_object_set_new(kc, wf_kinds[k].name, list);
    }
    for (int b = 0; b < wf_n_blocks; b++) {
        const struct wf_block_vtbl *vt = wf_blocks[b];
        for (int i = 0; i < vt->n_props; i++) {
            if (!vt->props[i].type_annotation) continue;
            json_t *c = json_object();
            json_object_set_new(c, "manifest_type_identifier", json_string(vt->type));
            json_object_set_new(c, "property_name", json_string(vt->props[i].name));
            json_object_set_new(c, "property_description", json_string(vt->props[i].description));
            json_object_set_new(c, "type_annotation", json_string(vt->props[i].type_annotation));
            json_array_append_new(prims, c);
        }
    }
    json_object_set_new(doc, "blocks", blocks);
    json_object_set_new(doc, "declared_kinds", kinds);
    json_object_set_new(doc, "kinds_connections", kc);
    json_object_set_new(doc, "primitives_connections", prims);
    json_t *uql = json_object();
    json_object_set_new(uql, "operations_description", json_array());
    json_object_set_new(uql, "operators_descriptions", json_array());
    json_object_set_new(doc, "universal_query_language_description", uql);
    json_object_set_new(doc, "dynamic_block_definition_schema", json_object());
    return doc;
}

mlc_status mlc_blocks_describe(char **json_out, mlc_error *err)
{
    if (!json_out) return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "json_out is NULL");
    json_t *doc = describe_doc();
    if (!doc) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory building describe");
    struct core_buf b;
    core_buf_init(&b, 0);
    mlc_status st = wf_json_dump(&b, doc);
    json_decref(doc);
    if (st) {
        core_buf_free(&b);
        return core_err(err, st, "cannot serialise the describe document");
    }
    *json_out = core_buf_take(&b);
    return MLC_OK;
}
