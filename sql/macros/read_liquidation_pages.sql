{#- The landed liquidation pages as rows (answer_time, data, filename), typed as they are read: numeric strings
    ("703") are cast, a non-numeric one where a number belongs ("n/a") is refused with the page named, and so
    is a page that is not valid JSON. `files` is a glob or a list of globs as written inside SQL string
    literals (quotes doubled); an empty list reads nothing (same columns).
    Read as text and typed with json_transform, not with read_json: the same types, 2-3x faster on thousands
    of files (read_json's per-file setup dominates; bench/README.md, Scenario 5). json_transform is lenient
    (a value it cannot cast becomes null), so a page with a null measure is looked at again: a measure
    written as a string that is not a number refuses the page, as read_json would. -#}
{% macro page_structure() -%}
    {%- set measures -%}
        {%- for name, type in measure_types().items() -%}
            "{{ name }}": "{{ type | upper }}"{{ ', ' if not loop.last }}
        {%- endfor -%}
    {%- endset -%}
    {"answer_time": "VARCHAR", "data": [{"interval_time": "VARCHAR", "interval_timestamp": "BIGINT", {{ measures }},
    "exchanges": [{"exchange": "VARCHAR", {{ measures }}}]}]}
{%- endmacro %}

{#- true when a measure (or the row's interval_timestamp) of the page is null after json_transform -#}
{% macro page_has_null_measure(page) -%}
    {%- set row_nulls -%}
        {%- for name in measure_types() -%}row.{{ name }} is null{{ ' or ' if not loop.last }}{%- endfor -%}
    {%- endset -%}
    {%- set exchange_nulls -%}
        {%- for name in measure_types() -%}by_exchange.{{ name }} is null{{ ' or ' if not loop.last }}{%- endfor -%}
    {%- endset -%}
    coalesce(list_bool_or([
        row.interval_timestamp is null or {{ row_nulls }}
            or coalesce(list_bool_or([{{ exchange_nulls }} for by_exchange in row.exchanges]), false)
        for row in {{ page }}.data
    ]), false)
{%- endmacro %}

{% macro read_liquidation_pages(files) %}
    {%- set row_type = 'struct(interval_time varchar, interval_timestamp bigint, ' ~ typed_measures()
                       ~ ', exchanges struct(exchange varchar, ' ~ typed_measures() ~ ')[])' -%}
    {%- set numeric_keys = ['interval_timestamp'] + (measure_types() | list) -%}
    {%- set quoted_numbers = '"(?:' ~ numeric_keys | join('|') ~ ')"\\s*:\\s*"([^"]*)"' -%}
    {%- set files = [files] if files is string else files -%}
    {%- if files -%}
    select page.answer_time as answer_time, page.data as data, filename
    from (
        select
            filename,
            page,
            case
                when page is null then error('page ' || filename || ' is not valid JSON: the file changed '
                    || 'after it landed; fetch its window again (liqreport fetch --refresh)')
                when {{ page_has_null_measure('page') }} and len(list_filter(
                        regexp_extract_all(content, '{{ quoted_numbers }}', 1),
                        lambda value: try_cast(value as double) is null)) > 0
                    then error('page ' || filename || ' holds a value that is not a number where a number '
                        || 'belongs: "' || list_filter(regexp_extract_all(content, '{{ quoted_numbers }}', 1),
                        lambda value: try_cast(value as double) is null)[1] || '"')
            end as refused
        from (
            select filename, content, try(json_transform(content, '{{ page_structure() }}')) as page
            from read_text([{% for file in files %}'{{ file }}'{{ ', ' if not loop.last }}{% endfor %}])
        )
    )
    where refused is null
    {%- else -%}
    select null::varchar as answer_time, null::{{ row_type }}[] as data, null::varchar as filename
    where false
    {%- endif -%}
{% endmacro %}
