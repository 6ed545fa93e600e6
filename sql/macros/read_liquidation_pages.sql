{#- The landed liquidation pages as rows (answer_time, data, filename), typed as they are read: the JSON
    reader casts numeric strings ("703") and refuses non-numeric ones. `files` is a glob or a list of globs
    as written inside SQL string literals (quotes doubled); an empty list reads nothing (same columns). -#}
{% macro read_liquidation_pages(files) %}
    {%- set row_type = 'struct(interval_time varchar, interval_timestamp bigint, ' ~ typed_measures()
                       ~ ', exchanges struct(exchange varchar, ' ~ typed_measures() ~ ')[])' -%}
    {%- set files = [files] if files is string else files -%}
    {%- if files -%}
    select *
    from read_json(
        [{% for file in files %}'{{ file }}'{{ ', ' if not loop.last }}{% endfor %}],
        format = 'unstructured',
        filename = true,
        hive_partitioning = false,
        maximum_object_size = 33554432,
        columns = {answer_time: 'varchar', data: '{{ row_type }}[]'}
    )
    {%- else -%}
    select null::varchar as answer_time, null::{{ row_type }}[] as data, null::varchar as filename
    where false
    {%- endif -%}
{% endmacro %}
