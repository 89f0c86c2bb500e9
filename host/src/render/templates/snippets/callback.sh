{#- awl built-in: a shell fragment that tells awl this install is done (a
    POST with an empty body to the callback URL, which carries the install's
    token; awl refuses a GET). With `awl_report_failure` set (kickstart's
    %onerror), it tells awl the install failed instead (`&status=failed`).
    Nothing when the install has no callback. #}
{% if urls.callback %}
{% set awl_var = "awl_failed_callback" if awl_report_failure else "awl_callback" %}
# awl: report the install {{ "failed" if awl_report_failure else "done" }}
{{ awl_var }}={{ (urls.callback ~ ("&status=failed" if awl_report_failure else "")) | shell_quote }}
if command -v curl >/dev/null 2>&1; then
    curl -fsS --retry 3 -d '' -o /dev/null "${{ awl_var }}" || true
else
    wget -q --post-data= -O /dev/null "${{ awl_var }}" || true
fi
{% endif %}
