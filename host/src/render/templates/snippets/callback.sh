{#- awl built-in: a shell fragment that tells awl this install is done (a
    GET, as Cobbler's nopxe and Foreman's "built" calls are). Nothing when the
    install has no callback. #}
{% if urls.callback %}
# awl: report the install done
awl_callback={{ urls.callback | shell_quote }}
if command -v curl >/dev/null 2>&1; then
    curl -fsS --retry 3 -o /dev/null "$awl_callback" || true
else
    wget -q -O /dev/null "$awl_callback" || true
fi
{% endif %}
