# bash completion for herald(1): commands, subcommands, each command's options
# (the lists below; tests/test_package.c checks them against every command's
# --help), option values, and the names of campaigns, segments, templates and
# providers, which come from `herald complete WHAT` (a hidden command that
# prints nothing when there is no database) run with the -c and --db the
# command line already has.

_herald_commands="init config contacts suppress provider segment template campaign run send log history why stats events serve bounces apikey webhook inbox user audit db nodes help"
_herald_global_opts="-c --config --db -v --verbose -q --quiet -h --help --version"

_herald_subcommands()
{
    case $1 in
    config) echo "check" ;;
    contacts) echo "import show list optout optin delete" ;;
    suppress) echo "add remove import list" ;;
    provider) echo "list test" ;;
    segment) echo "define list show count sample export delete rfm" ;;
    template) echo "list lint preview render" ;;
    campaign) echo "create list show estimate pause resume cancel retry" ;;
    log) echo "prune" ;;
    events) echo "import" ;;
    serve) echo "init-secret" ;;
    bounces) echo "fetch" ;;
    apikey) echo "create list revoke" ;;
    webhook) echo "list test deliver" ;;
    inbox) echo "token" ;;
    user) echo "add set role list remove passwd" ;;
    audit) echo "actions" ;;
    db) echo "copy" ;;
    esac
}

_herald_options()
{
    case $1 in
    init) echo "--db" ;;
    contacts) echo "--format --types --default-region --replace --skip-invalid --rejects --dry-run --max-errors --map --encoding --last-wins --json --limit --channel --category" ;;
    suppress) echo "--reason --channel --default-region --encoding --format" ;;
    provider) echo "--format --to --template --contact --channel --variant" ;;
    segment) echo "--replace --allow-unknown --sql --expr -n --format --event --value --window --scores" ;;
    template) echo "--format --contact --data --channel --locale --variant --json --partials --strict --escape" ;;
    campaign) echo "--segment --template --channels --category --now --at --local-time --on --every --tz --holdout --variants --expires --resend-after --fallback-on-failure --rate --dry-run --run --reason --state --format" ;;
    run) echo "--once --grace --serve --listen" ;;
    send) echo "--wait --grace --now" ;;
    log) echo "--campaign --run --contact --channel --provider --outcome --reason --since --until --limit --oldest-first --format --older-than --batch" ;;
    history) echo "--format" ;;
    why) echo "--format" ;;
    stats) echo "--by --goal --window --format" ;;
    events) echo "--format --encoding" ;;
    serve) echo "--listen --base64" ;;
    bounces) echo "--maildir --imap --dry-run" ;;
    apikey) echo "--scope --rate --format" ;;
    webhook) echo "--format --once --from-start" ;;
    inbox) echo "--ttl" ;;
    user) echo "--role --password-file --lang --zone --format" ;;
    audit) echo "--who --action --since --until --limit --format" ;;
    db) echo "--batch" ;;
    nodes) echo "--format" ;;
    esac
    echo "--help"
}

# The names herald knows, with the global options given so far.
_herald_names()
{
    local i w globals=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
        -c | --config | --db) globals+=("$w" "${COMP_WORDS[i + 1]}") ;;
        --config=* | --db=*) globals+=("$w") ;;
        -*) ;;
        *) break ;;
        esac
    done
    "${COMP_WORDS[0]}" "${globals[@]}" complete "$1" 2>/dev/null
}

# Options that take a value (the next word, or after "=").
_herald_takes_value()
{
    case $1 in
    -c | --config | --db | --rejects | --data | --types | --partials | --segment | --template | \
        --campaign | --provider | --channel | --channels | --category | --format | --outcome | \
        --by | --escape | --reason | --to | --contact | --variant | --expr | -n | --locale | --at | \
        --local-time | --on | --every | --tz | --holdout | --variants | --expires | --resend-after | \
        --rate | --limit | --max-errors | --default-region | --run | --since | --until | \
        --older-than | --batch | --event | --value | --scores | --map | --encoding | --state | --grace | --wait | --goal | --window | \
        --listen | --maildir | --imap | --scope | --ttl) return 0 ;;
    esac
    return 1
}

# Completes the value of option opt; returns 1 when it takes none.
_herald_value()
{
    local opt=$1 cur=$2
    _herald_takes_value "$opt" || return 1
    case $opt in
    -c | --config | --db | --rejects | --data) COMPREPLY=($(compgen -f -- "$cur")) ;;
    --partials | --maildir) COMPREPLY=($(compgen -d -- "$cur")) ;;
    --segment) COMPREPLY=($(compgen -W "$(_herald_names segments)" -- "$cur")) ;;
    --template) COMPREPLY=($(compgen -W "$(_herald_names templates)" -- "$cur")) ;;
    --campaign) COMPREPLY=($(compgen -W "$(_herald_names campaigns)" -- "$cur")) ;;
    --provider) COMPREPLY=($(compgen -W "$(_herald_names providers)" -- "$cur")) ;;
    --channel | --channels) COMPREPLY=($(compgen -W "email sms push inbox wechat" -- "$cur")) ;;
    --category) COMPREPLY=($(compgen -W "marketing transactional" -- "$cur")) ;;
    --format) COMPREPLY=($(compgen -W "table csv json jsonl" -- "$cur")) ;;
    --outcome) COMPREPLY=($(compgen -W "accepted temporary permanent throttled skipped receipt" -- "$cur")) ;;
    --by) COMPREPLY=($(compgen -W "channel variant provider day" -- "$cur")) ;;
    --escape) COMPREPLY=($(compgen -W "html none" -- "$cur")) ;;
    --state) COMPREPLY=($(compgen -W "failed render_failed" -- "$cur")) ;;
    --encoding) COMPREPLY=($(compgen -W "utf-8 gbk gb18030 big5 shift_jis euc-kr latin1" -- "$cur")) ;;
    *) COMPREPLY=() ;;
    esac
    return 0
}

# Operands: which names the command's next operand is.
_herald_operand()
{
    local cmd=$1 sub=$2 n=$3 cur=$4 what=
    case $cmd:$sub in
    campaign:show | campaign:estimate | campaign:pause | campaign:resume | campaign:cancel | campaign:retry) what=campaigns ;;
    segment:show | segment:count | segment:sample | segment:export | segment:delete) what=segments ;;
    template:lint | template:preview) what=templates ;;
    provider:test) what=providers ;;
    send:* | stats:*) [ "$n" = 0 ] && what=campaigns ;;
    why:*) [ "$n" = 1 ] && what=campaigns ;;
    help:*) [ "$n" = 0 ] && COMPREPLY=($(compgen -W "$_herald_commands" -- "$cur")) ;;
    contacts:import | events:import | template:render | suppress:import | serve:init-secret)
        [ "$n" = 0 ] && COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
    [ -z "$what" ] || COMPREPLY=($(compgen -W "$(_herald_names $what)" -- "$cur"))
}

_herald()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local i w cmd= sub= nargs=0
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [ -z "$cmd" ]; then
            case $w in
            -c | --config | --db) ((i++)) ;;
            -*) ;;
            *) cmd=$w ;;
            esac
        elif [[ $w == -* ]]; then
            _herald_takes_value "$w" && ((i++))
        elif [ -z "$sub" ] && [ -n "$(_herald_subcommands "$cmd")" ]; then
            sub=$w
        else
            ((nargs++))
        fi
    done
    COMPREPLY=()
    if [ "$COMP_CWORD" -gt 1 ] && _herald_value "$prev" "$cur"; then
        return 0
    fi
    if [ -z "$cmd" ]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$_herald_global_opts" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$_herald_commands" -- "$cur"))
        fi
    elif [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_herald_options "$cmd")" -- "$cur"))
    elif [ -z "$sub" ] && [ -n "$(_herald_subcommands "$cmd")" ]; then
        COMPREPLY=($(compgen -W "$(_herald_subcommands "$cmd")" -- "$cur"))
    else
        _herald_operand "$cmd" "$sub" "$nargs" "$cur"
    fi
    return 0
}
complete -F _herald herald
