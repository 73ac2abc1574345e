# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_convoy_global_optspecs
    string join \n addr= ca= cert= key= timeout= o/output= log-format= h/help V/version
end

function __fish_convoy_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_convoy_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_convoy_using_subcommand
    set -l cmd (__fish_convoy_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c convoy -n "__fish_convoy_needs_command" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_needs_command" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_needs_command" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_needs_command" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_needs_command" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_needs_command" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_needs_command" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_needs_command" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_needs_command" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "serve" -d 'Run the coordinator'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "ca" -d 'Manage the fleet\'s certificate authority'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "cert" -d 'Issue certificates from the fleet CA, or revoke one on the coordinator'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "agents" -d 'List agents, or show one. (`--version` here filters by app version: APP=VERSION.)'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "token" -d 'One-time enrollment tokens: `convoy token create|list|revoke`'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "certs" -d 'Certificates the coordinator knows: `convoy certs list`'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "whoami" -d 'Show who the coordinator thinks you are'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "exec" -d 'Run an allow-listed action on every matching host, as a job'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "agent" -d 'One host: cordon, uncordon, drain, remove, revoke'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "jobs" -d 'Recent jobs: id, action, targets, state counts, started, by whom'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "job" -d 'Inspect or cancel one job'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "audit" -d 'Who did what, when, with what result'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "release" -d 'Release artifacts: signing keys, upload, list, status across the fleet'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "deploy" -d 'Deploy a pushed release to every matching host, as a job'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "rollback" -d 'Return an app to each host\'s previous (or a named) kept release, as a job'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "rollout" -d 'Rolling releases in canary waves behind health and metric gates'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "env" -d 'Environments (`[[environments]]`): order, rules, windows and what runs where'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "freeze" -d 'Freezes: no rollout starts or starts new hosts in an environment meanwhile'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "backup" -d 'Backups: run, list, verify, restore, drill and schedule'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "snapshot" -d 'The coordinator\'s own state: save a snapshot, restore one into an empty data dir, drill one in a scratch coordinator'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "metrics" -d 'Metrics history of a host, or aggregated across hosts (--selector)'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "report" -d 'Reports from the metrics history: `convoy report capacity`'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "scale" -d 'Scaling policies ([[scaling]] in coordinator.toml): `convoy scale status`'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "alerts" -d 'Alerts firing now: rule, host, since, value'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "events" -d 'The event log, in order; --follow streams it live'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "notify" -d 'Notifications: send a test, show deliveries'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "ui" -d 'The web dashboard on loopback: prints http://127.0.0.1:8470/?token=… and serves the fleet, hosts with metric plots, and live rollouts with their controls until Ctrl-C, acting with this operator\'s certificate'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish or powershell) to stdout'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "man" -d 'Write man pages for every command into a directory (packaging/generate-docs uses it)'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "demo" -d 'A live local fleet with nothing set up: 5 agents, a canary rollout, a broken release rolled back by itself, a backup and a recovery drill; runs until Ctrl-C'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "demo-app" -d 'The demo\'s sample app (used by the demo\'s release hooks)'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand serve" -s c -l config -d 'Path to coordinator.toml' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand serve" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand serve" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand serve" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand serve" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand serve" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand serve" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand serve" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand serve" -l check -d 'Check the config (and the files it names) and print what it means; exit 1 on any error. Serves nothing'
complete -c convoy -n "__fish_convoy_using_subcommand serve" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand serve" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -f -a "init" -d 'Create a new fleet CA: DIR/ca.pem and DIR/ca.key (mode 0600)'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -f -a "rotate" -d 'CA rotation on the running coordinator, in phases: start → advance (update_clients) → advance (update_servers) → finish; abort returns to the old CA'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and not __fish_seen_subcommand_from init rotate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -l dir -d 'Directory to write the CA into' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -l days -d 'Validity in days' -r
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -l root-dir -d 'The root CA\'s directory (ca.pem, ca.key) for --intermediate' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -l force -d 'Overwrite an existing CA (every certificate it issued stops being trusted)'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -l intermediate -d 'Make an intermediate (issuing) CA signed by the root in --root-dir, for the coordinator\'s `[ca]`; the root can then stay offline. Agents trust the root'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from rotate" -l root-key -d 'start, when the coordinator\'s [ca] is an intermediate: the root CA\'s key (PEM). The bundle agents are to trust is fetched, signed here and sent back; the key never leaves this machine' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from rotate" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from rotate" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from rotate" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from rotate" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from rotate" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from rotate" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from rotate" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from rotate" -l force -d 'finish: drop the old CA even while online agents (or operators seen within 24 h) still hold its certificates'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from rotate" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from help" -f -a "init" -d 'Create a new fleet CA: DIR/ca.pem and DIR/ca.key (mode 0600)'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'CA rotation on the running coordinator, in phases: start → advance (update_clients) → advance (update_servers) → finish; abort returns to the old CA'
complete -c convoy -n "__fish_convoy_using_subcommand ca; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -f -a "issue" -d 'Issue a certificate: writes OUT/NAME.pem and OUT/NAME.key (mode 0600)'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -f -a "revoke" -d 'Revoke a certificate on the running coordinator: `--serial S` or every certificate of `--operator NAME`. Admin only; live sessions using it are cut within a second'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and not __fish_seen_subcommand_from issue revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l role -d 'Operator role: viewer, operator or admin' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l san -d 'DNS name or IP address the server is reached by (servers only; repeatable)' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l ca-dir -d 'Directory holding ca.pem and ca.key' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l out -d 'Directory to write the certificate and key into' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l days -d 'Validity in days' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -l force -d 'Overwrite existing files'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from issue" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -l serial -d 'One certificate, by serial (hex; colons allowed), as `convoy certs list` shows it' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -l operator -d 'Every certificate of an operator name' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -l reason -d 'Why (kept with the revocation and in the audit log)' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from revoke" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "issue" -d 'Issue a certificate: writes OUT/NAME.pem and OUT/NAME.key (mode 0600)'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a certificate on the running coordinator: `--serial S` or every certificate of `--operator NAME`. Admin only; live sessions using it are cut within a second'
complete -c convoy -n "__fish_convoy_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -s s -l selector -d 'Label selector, e.g. \'role=web,zone in (a,b)\' (\'id=web-1\' names a host)' -r
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -l host -d 'Only these hosts, by agent id: comma-separated or repeated' -r
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -l state -d 'Only agents in this state' -r -f -a "online\t''
offline\t''
cordoned\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -l version -d 'Only agents running this version of an app: APP=VERSION' -r
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -l sort -d 'Order: by id (default), cpu or mem (highest first), last_seen (most recent first)' -r -f -a "id\t''
cpu\t''
mem\t''
last_seen\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'One agent: facts, labels, latest metrics, metrics history, connection history'
complete -c convoy -n "__fish_convoy_using_subcommand agents; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand agents; and __fish_seen_subcommand_from show" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand agents; and __fish_seen_subcommand_from show" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agents; and __fish_seen_subcommand_from show" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agents; and __fish_seen_subcommand_from show" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agents; and __fish_seen_subcommand_from show" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand agents; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agents; and __fish_seen_subcommand_from show" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agents; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand agents; and __fish_seen_subcommand_from help" -f -a "show" -d 'One agent: facts, labels, latest metrics, metrics history, connection history'
complete -c convoy -n "__fish_convoy_using_subcommand agents; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "create" -d 'Create a token; it is printed once, with the CA fingerprint hosts pin'
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "list" -d 'Tokens: id, labels, pattern, uses, expiry, state (the secrets are never shown again)'
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "revoke" -d 'Revoke a token by id: no enrollment succeeds with it from now on'
complete -c convoy -n "__fish_convoy_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -l labels -d 'Labels granted to every agent enrolled with it (authoritative): k=v,k=v' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -l ttl -d 'How long it may be used (e.g. 30m, 24h)' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -l uses -d 'How many hosts may enroll with it' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -l id-pattern -d 'Glob every enrolled agent id must match, e.g. \'web-*\'' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from list" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from list" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from list" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from list" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from list" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from list" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from revoke" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from revoke" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from revoke" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from revoke" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from revoke" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from revoke" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from revoke" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from revoke" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a token; it is printed once, with the CA fingerprint hosts pin'
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "list" -d 'Tokens: id, labels, pattern, uses, expiry, state (the secrets are never shown again)'
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a token by id: no enrollment succeeds with it from now on'
complete -c convoy -n "__fish_convoy_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand certs; and not __fish_seen_subcommand_from list help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand certs; and not __fish_seen_subcommand_from list help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand certs; and not __fish_seen_subcommand_from list help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand certs; and not __fish_seen_subcommand_from list help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand certs; and not __fish_seen_subcommand_from list help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand certs; and not __fish_seen_subcommand_from list help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand certs; and not __fish_seen_subcommand_from list help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand certs; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand certs; and not __fish_seen_subcommand_from list help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand certs; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'Certificates the coordinator has seen, with serial, kind, name, expiry and state (active, expired, revoked), and the revocations by name'
complete -c convoy -n "__fish_convoy_using_subcommand certs; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand certs; and __fish_seen_subcommand_from list" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand certs; and __fish_seen_subcommand_from list" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand certs; and __fish_seen_subcommand_from list" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand certs; and __fish_seen_subcommand_from list" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand certs; and __fish_seen_subcommand_from list" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand certs; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand certs; and __fish_seen_subcommand_from list" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand certs; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand certs; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "list" -d 'Certificates the coordinator has seen, with serial, kind, name, expiry and state (active, expired, revoked), and the revocations by name'
complete -c convoy -n "__fish_convoy_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand whoami" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand whoami" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand whoami" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand whoami" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand whoami" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand whoami" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand whoami" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand whoami" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand whoami" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l param -d 'A value for one of the action\'s parameters, e.g. --param unit=nginx (repeatable); each host checks it against its own allow-list or pattern' -r
complete -c convoy -n "__fish_convoy_using_subcommand exec" -s s -l selector -d 'Label selector for the target hosts, e.g. \'role=web\' (\'id=web-1\' names a host)' -r
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l host -d 'Only these hosts, by agent id: comma-separated or repeated; combines with --selector (both must match)' -r
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l concurrency -l batch -d 'Hosts running at once: N or P% (default: all)' -r
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l max-errors -l max-failures -d 'Failures after which no new host starts: N or P%' -r
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l delivery-timeout -l offline-timeout -d 'A host offline this long after its turn came is undeliverable' -r
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l request-id -d 'Idempotency key: repeating a request with the same key returns the first job' -r
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand exec" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l follow -d 'Print every host\'s output, prefixed by host, as it arrives; exit like --wait'
complete -c convoy -n "__fish_convoy_using_subcommand exec" -l wait -d 'Block until the job ends; exit 0 only if every host succeeded'
complete -c convoy -n "__fish_convoy_using_subcommand exec" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand exec" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -f -a "revoke" -d 'Revoke every certificate of an agent id: its live session is cut within a second and its reconnects are refused'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -f -a "cordon" -d 'No new jobs or rollouts go to the host (it keeps what it runs). Operator role'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -f -a "uncordon" -d 'Let new jobs and rollouts reach the host again. Operator role'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -f -a "drain" -d 'Cordon the host, then wait until none of its commands is still in flight'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -f -a "remove" -d 'Forget a host (its record and history). Refused while it is online unless --force, which ends its session first. Admin role; audited'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and not __fish_seen_subcommand_from revoke cordon uncordon drain remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from revoke" -l reason -d 'Why (kept with the revocation and in the audit log)' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from revoke" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from revoke" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from revoke" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from revoke" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from revoke" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from revoke" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from revoke" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from revoke" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from cordon" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from cordon" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from cordon" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from cordon" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from cordon" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from cordon" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from cordon" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from cordon" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from cordon" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from uncordon" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from uncordon" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from uncordon" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from uncordon" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from uncordon" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from uncordon" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from uncordon" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from uncordon" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from uncordon" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from drain" -l max-wait -d 'Give up (exit 1, still cordoned) after this long' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from drain" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from drain" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from drain" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from drain" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from drain" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from drain" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from drain" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from drain" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from drain" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from remove" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from remove" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from remove" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from remove" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from remove" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from remove" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from remove" -l force -d 'Remove it although it is online'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke every certificate of an agent id: its live session is cut within a second and its reconnects are refused'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "cordon" -d 'No new jobs or rollouts go to the host (it keeps what it runs). Operator role'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "uncordon" -d 'Let new jobs and rollouts reach the host again. Operator role'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "drain" -d 'Cordon the host, then wait until none of its commands is still in flight'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Forget a host (its record and history). Refused while it is online unless --force, which ends its session first. Admin role; audited'
complete -c convoy -n "__fish_convoy_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -l limit -d 'At most this many (fetched in pages)' -r
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -l since -d 'Only jobs created this recently, e.g. 1h, 30m, 7d' -r
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -l state -d 'Only jobs in this state' -r -f -a "running\t''
succeeded\t''
failed\t''
cancelled\t''
undeliverable\t''"
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -l action -d 'Only jobs of this action: exact ("uptime", "deploy web 1.2") or its first words ("deploy", "backup pgdata")' -r
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -l host -d 'Only jobs that ran (or were to run) on this host' -r
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand jobs" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -f -a "show" -d 'One job: per host state, exit code, duration and output tail'
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -f -a "output" -d 'One host\'s whole output for a job'
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -f -a "cancel" -d 'Cancel a job: pending hosts never start, running ones are stopped'
complete -c convoy -n "__fish_convoy_using_subcommand job; and not __fish_seen_subcommand_from show output cancel help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from show" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from show" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from show" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from show" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from show" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from show" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from output" -l host -d 'The host whose output to print' -r
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from output" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from output" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from output" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from output" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from output" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from output" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from output" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from output" -l follow -d 'Keep printing as the command writes more, until it ends (re-attaches to a running job)'
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from output" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from output" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from cancel" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from cancel" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from cancel" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from cancel" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from cancel" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from cancel" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from cancel" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from cancel" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from help" -f -a "show" -d 'One job: per host state, exit code, duration and output tail'
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from help" -f -a "output" -d 'One host\'s whole output for a job'
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from help" -f -a "cancel" -d 'Cancel a job: pending hosts never start, running ones are stopped'
complete -c convoy -n "__fish_convoy_using_subcommand job; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand audit" -l since -d 'Only entries this recent, e.g. 1h, 30m, 7d' -r
complete -c convoy -n "__fish_convoy_using_subcommand audit" -l operator -d 'Only this operator\'s entries' -r
complete -c convoy -n "__fish_convoy_using_subcommand audit" -l limit -d 'At most this many (the newest)' -r
complete -c convoy -n "__fish_convoy_using_subcommand audit" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand audit" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand audit" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand audit" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand audit" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand audit" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand audit" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand audit" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand audit" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -f -a "keygen" -d 'Create an ed25519 key pair for signing releases: OUT.key (0600) and OUT.pub'
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -f -a "push" -d 'Upload an artifact (tar.gz or tar.zst) as APP VERSION, optionally signed'
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -f -a "show" -d 'One release: notes, metadata, signer, sha256, size, pushed by/at, and the rollouts that deployed it'
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -f -a "list" -d 'Releases of an app (all apps if omitted): version, size, sha256, signer, pushed at'
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -f -a "status" -d 'Which hosts run which version of APP, healthy or not'
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -f -a "delete" -d 'Forget APP VERSION and remove its artifact (admin; audited). Refused, naming them, while a host runs it, a deploy job sends it or an active rollout uses it'
complete -c convoy -n "__fish_convoy_using_subcommand release; and not __fish_seen_subcommand_from keygen push show list status delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from keygen" -l out -d 'Path prefix of the two files' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from keygen" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from keygen" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from keygen" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from keygen" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from keygen" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from keygen" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from keygen" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from keygen" -l force -d 'Overwrite existing files'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from keygen" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from keygen" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -l sign-key -d 'Private key from `convoy release keygen` to sign with' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -l notes-file -d 'Release notes (e.g. CHANGES.md), stored with the release; at most 64 KiB' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -l meta -d 'Metadata stored with the release (commit, build URL, author): KEY=VALUE, repeatable; keys [a-z0-9_.-]' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from push" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from show" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from show" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from show" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from show" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from show" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from show" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from list" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from list" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from list" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from list" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from list" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from list" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from status" -s s -l selector -d 'Label selector for the hosts shown (\'id=web-1\' names a host)' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from status" -l host -d 'Only these hosts, by agent id: comma-separated or repeated' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from status" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from status" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from status" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from status" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from status" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from status" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from delete" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from delete" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from delete" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from delete" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from delete" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from delete" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from help" -f -a "keygen" -d 'Create an ed25519 key pair for signing releases: OUT.key (0600) and OUT.pub'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from help" -f -a "push" -d 'Upload an artifact (tar.gz or tar.zst) as APP VERSION, optionally signed'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from help" -f -a "show" -d 'One release: notes, metadata, signer, sha256, size, pushed by/at, and the rollouts that deployed it'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from help" -f -a "list" -d 'Releases of an app (all apps if omitted): version, size, sha256, signer, pushed at'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from help" -f -a "status" -d 'Which hosts run which version of APP, healthy or not'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Forget APP VERSION and remove its artifact (admin; audited). Refused, naming them, while a host runs it, a deploy job sends it or an active rollout uses it'
complete -c convoy -n "__fish_convoy_using_subcommand release; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -s s -l selector -d 'Label selector for the target hosts, e.g. \'role=web\' (\'id=web-1\' names a host)' -r
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l host -d 'Only these hosts, by agent id: comma-separated or repeated; combines with --selector (both must match)' -r
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l concurrency -l batch -d 'Hosts running at once: N or P% (default: all)' -r
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l max-errors -l max-failures -d 'Failures after which no new host starts: N or P%' -r
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l delivery-timeout -l offline-timeout -d 'A host offline this long after its turn came is undeliverable' -r
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l request-id -d 'Idempotency key: repeating a request with the same key returns the first job' -r
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l follow -d 'Print every host\'s output, prefixed by host, as it arrives; exit like --wait'
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -l wait -d 'Block until the job ends; exit 0 only if every host succeeded'
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand deploy" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l to -d 'A kept release to return to (default: each host\'s previous one)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -s s -l selector -d 'Label selector for the target hosts, e.g. \'role=web\' (\'id=web-1\' names a host)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l host -d 'Only these hosts, by agent id: comma-separated or repeated; combines with --selector (both must match)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l concurrency -l batch -d 'Hosts running at once: N or P% (default: all)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l max-errors -l max-failures -d 'Failures after which no new host starts: N or P%' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l delivery-timeout -l offline-timeout -d 'A host offline this long after its turn came is undeliverable' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l request-id -d 'Idempotency key: repeating a request with the same key returns the first job' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l follow -d 'Print every host\'s output, prefixed by host, as it arrives; exit like --wait'
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -l wait -d 'Block until the job ends; exit 0 only if every host succeeded'
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollback" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "start" -d 'Roll APP out to VERSION on every matching host, in canary waves behind gates'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "list" -d 'Rollouts of every app, newest first'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "status" -d 'One rollout: waves, hosts per wave with state, gates, failures against the budget, and what it waits for'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "watch" -d 'Live progress per wave until the rollout ends; exits 0 only if it succeeded, 3 if it stops to wait for an operator (paused or awaiting promotion)'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "pause" -d 'Start no new hosts; those in flight finish'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "resume" -d 'Continue a paused rollout (after a failure pause, the failures so far are accepted)'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "promote" -d 'Let a rollout go on past its canary wave'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "abort" -d 'Stop for good: no new hosts, nothing reverted. Always wins'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "rollback" -d 'Return every host the rollout moved to its previous version, in waves. Works from any state but rolling_back/rolled_back, including aborted and failed'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "report" -d 'The post-deployment report: timeline (planned against actual per wave, waits, who did what), each host\'s outcome, failures against the budget, the rollback, metric deltas of the updated hosts (hour before against after, with significance) and the canary verdicts. Stored when the rollout ends; computed now for one still going. -o markdown fits a pull-request comment; -o json is a stable shape'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "approve" -d 'Approve a rollout awaiting approval (you must not be the operator who started it; the environment may ask for a role). Who approves is your certificate\'s name'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "unapprove" -d 'Withdraw your approval of a rollout (the same as `approve --withdraw`)'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "history" -d 'Past rollouts of an app and their outcome'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and not __fish_seen_subcommand_from start list status watch pause resume promote abort rollback report approve unapprove history help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -s s -l selector -d 'Label selector for the target hosts, e.g. \'role=web\' (\'id=web-1\' names a host); with --env it narrows the environment\'s selector' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l env -d 'The environment (`[[environments]]` in coordinator.toml) to roll out to: its selector, promotion rule (`requires`), approvals and window apply' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l reason -d 'Why --force was needed' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l at -d 'Schedule the start: \'YYYY-MM-DD HH:MM\' in the environment\'s timezone (UTC without --env), or with an offset (\'2026-12-05 02:00+01:00\'). It then runs only inside the environment\'s window, like any rollout there' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l host -d 'Only these hosts, by agent id: comma-separated or repeated; combines with --selector (both must match)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l canary -d 'The first wave: N hosts or P% (default 1)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l batch -l concurrency -d 'Hosts per later wave: N or P% (default 10%). Also the size of rollback waves' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l steps -d 'A ramp of cumulative shares instead of canary and batch, e.g. 1,10%,50%,100%' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l max-failures -l max-errors -d 'Failed hosts tolerated over the whole rollout: N or P% (default 0)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l bake -d 'How long each finished wave must stay healthy, within its gates, before the next' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l gate -d 'A metric gate checked on every host of a baking wave: cpu<90, mem<95, load1<8, disk</:90, cpu<1.5*baseline, an app signal APP.NAME: web.error_rate<0.01. Repeatable' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l analysis -d 'Canary analysis at the end of each wave\'s bake (needs --bake): the wave\'s updated hosts against those not yet updated, over the bake, from the metrics history: cpu<=1.2*baseline, load1<=baseline+0.5, mem<90. Repeatable' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l inconclusive -d 'An analysis still inconclusive (too few samples) after its bake was extended once counts as this' -r -f -a "pass\t''
fail\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l group-by -d 'Waves never mix values of this label; groups go one after another' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l on-failure -d 'When failures exceed the budget: pause (the operator decides) or rollback' -r -f -a "pause\t''
rollback\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l pause-timeout -d 'Abort when a wait for promotion or a pause lasts longer than this' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l offline -d 'Hosts offline when their turn comes: wait for them, or skip them' -r -f -a "wait\t''
skip\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l offline-timeout -l delivery-timeout -d 'How long to wait for an offline host before counting it unreachable' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l late-window -d 'Hosts skipped or unreachable that come back within this long after the rollout succeeded still get the version' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l request-id -d 'Idempotency key: repeating a start with the same key returns the first rollout' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l force -d 'Start although the version has not succeeded in the environment --env requires (admin only; needs --reason, which is audited and kept with the rollout)'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l auto-promote -d 'Go on after the canary bakes without waiting for `convoy rollout promote`'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l dry-run -d 'Print the plan (waves and their hosts) and start nothing'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l wait -d 'Block until the rollout ends; exit 0 only if it succeeded, 3 if it stops to wait for an operator (paused, or awaiting promotion)'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -l wait-through-pauses -d 'With --wait: keep waiting through pauses and the wait for promotion, until the rollout ends'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from list" -l limit -d 'At most this many' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from list" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from list" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from list" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from list" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from list" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from list" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from list" -l active -d 'Only rollouts still going'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from status" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from status" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from status" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from status" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from status" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from status" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from watch" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from watch" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from watch" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from watch" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from watch" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from watch" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from watch" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from watch" -l wait-through-pauses -d 'Keep following through pauses and the wait for promotion, until it ends'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from watch" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from watch" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from pause" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from pause" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from pause" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from pause" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from pause" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from pause" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from pause" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from pause" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from pause" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from resume" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from resume" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from resume" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from resume" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from resume" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from resume" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from resume" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from resume" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from resume" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from promote" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from promote" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from promote" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from promote" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from promote" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from promote" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from promote" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from promote" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from promote" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from abort" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from abort" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from abort" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from abort" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from abort" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from abort" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from abort" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from abort" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from abort" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from rollback" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from rollback" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from rollback" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from rollback" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from rollback" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from rollback" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from rollback" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from rollback" -l wait -d 'Block until the rollback ends; exit 0 only if it rolled back cleanly'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from rollback" -l force -d 'Roll back a succeeded rollout even though newer rollouts of the app came after it (without it, the refusal says what the rollback would do)'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from rollback" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from rollback" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from report" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from report" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from report" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from report" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from report" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from report" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from report" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from report" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from report" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from approve" -l comment -d 'Said with the approval (shown in status, the audit log and notifications)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from approve" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from approve" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from approve" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from approve" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from approve" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from approve" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from approve" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from approve" -l withdraw -d 'Withdraw your approval instead'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from approve" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from approve" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from unapprove" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from unapprove" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from unapprove" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from unapprove" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from unapprove" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from unapprove" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from unapprove" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from unapprove" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from unapprove" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from history" -l limit -d 'At most this many, newest first' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from history" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from history" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from history" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from history" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from history" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from history" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from history" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from history" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from history" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "start" -d 'Roll APP out to VERSION on every matching host, in canary waves behind gates'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "list" -d 'Rollouts of every app, newest first'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "status" -d 'One rollout: waves, hosts per wave with state, gates, failures against the budget, and what it waits for'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "watch" -d 'Live progress per wave until the rollout ends; exits 0 only if it succeeded, 3 if it stops to wait for an operator (paused or awaiting promotion)'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "pause" -d 'Start no new hosts; those in flight finish'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "resume" -d 'Continue a paused rollout (after a failure pause, the failures so far are accepted)'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "promote" -d 'Let a rollout go on past its canary wave'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "abort" -d 'Stop for good: no new hosts, nothing reverted. Always wins'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "rollback" -d 'Return every host the rollout moved to its previous version, in waves. Works from any state but rolling_back/rolled_back, including aborted and failed'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "report" -d 'The post-deployment report: timeline (planned against actual per wave, waits, who did what), each host\'s outcome, failures against the budget, the rollback, metric deltas of the updated hosts (hour before against after, with significance) and the canary verdicts. Stored when the rollout ends; computed now for one still going. -o markdown fits a pull-request comment; -o json is a stable shape'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "approve" -d 'Approve a rollout awaiting approval (you must not be the operator who started it; the environment may ask for a role). Who approves is your certificate\'s name'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "unapprove" -d 'Withdraw your approval of a rollout (the same as `approve --withdraw`)'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "history" -d 'Past rollouts of an app and their outcome'
complete -c convoy -n "__fish_convoy_using_subcommand rollout; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand env; and not __fish_seen_subcommand_from list help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand env; and not __fish_seen_subcommand_from list help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand env; and not __fish_seen_subcommand_from list help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand env; and not __fish_seen_subcommand_from list help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand env; and not __fish_seen_subcommand_from list help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand env; and not __fish_seen_subcommand_from list help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand env; and not __fish_seen_subcommand_from list help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand env; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand env; and not __fish_seen_subcommand_from list help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand env; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'Environments in order, with their rules, window and the versions running there'
complete -c convoy -n "__fish_convoy_using_subcommand env; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand env; and __fish_seen_subcommand_from list" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand env; and __fish_seen_subcommand_from list" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand env; and __fish_seen_subcommand_from list" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand env; and __fish_seen_subcommand_from list" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand env; and __fish_seen_subcommand_from list" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand env; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand env; and __fish_seen_subcommand_from list" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand env; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand env; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "list" -d 'Environments in order, with their rules, window and the versions running there'
complete -c convoy -n "__fish_convoy_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -f -a "add" -d 'Freeze ENV from --from (default now) until --until: rollouts there neither start nor start new hosts (rollbacks still run). Operator role; audited'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -f -a "list" -d 'Every freeze, past ones included, by start'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -f -a "remove" -d 'Remove a freeze (`f-...`)'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and not __fish_seen_subcommand_from add list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -l from -d '\'YYYY-MM-DD HH:MM\' in the environment\'s timezone, or with an offset; default now' -r
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -l until -d 'When it ends: \'YYYY-MM-DD HH:MM\' in the environment\'s timezone, or with an offset' -r
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -l reason -d 'Why (shown in env list, freeze list, status and refusals; audited)' -r
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from list" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from list" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from list" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from list" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from list" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from list" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from remove" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from remove" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from remove" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from remove" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from remove" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from remove" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from help" -f -a "add" -d 'Freeze ENV from --from (default now) until --until: rollouts there neither start nor start new hosts (rollbacks still run). Operator role; audited'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from help" -f -a "list" -d 'Every freeze, past ones included, by start'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a freeze (`f-...`)'
complete -c convoy -n "__fish_convoy_using_subcommand freeze; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -f -a "run" -d 'Back up a set on every matching host, as a job'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -f -a "list" -d 'Stored backups, newest first: id, host, set, time, size, files, sha256, verified, drilled'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -f -a "verify" -d 'Re-hash a stored archive on the coordinator; exit 1 if it does not match'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -f -a "delete" -d 'Remove a backup\'s record and files (admin; audited). Refused while it is younger than [backups] min_retention, the last complete one of its host and set, uploading, or read by an unfinished restore'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -f -a "restore" -d 'Put a backup back on a host: under --to DIR, or --in-place (never the default)'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -f -a "drill" -d 'Restore each matching host\'s latest backup of a set into a scratch dir there, check every file, and report; exit 1 unless every host passed'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -f -a "schedule" -d 'Backup schedules (cron, UTC)'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and not __fish_seen_subcommand_from run list verify delete restore drill schedule help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -s s -l selector -d 'Label selector for the target hosts, e.g. \'role=web\' (\'id=web-1\' names a host)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l host -d 'Only these hosts, by agent id: comma-separated or repeated; combines with --selector (both must match)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l concurrency -l batch -d 'Hosts running at once: N or P% (default: all)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l max-errors -l max-failures -d 'Failures after which no new host starts: N or P%' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l delivery-timeout -l offline-timeout -d 'A host offline this long after its turn came is undeliverable' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l request-id -d 'Idempotency key: repeating a request with the same key returns the first job' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l follow -d 'Print every host\'s output, prefixed by host, as it arrives; exit like --wait'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -l wait -d 'Block until the job ends; exit 0 only if every host succeeded'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from run" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -l host -d 'Only this host\'s backups' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -l set -d 'Only this set\'s backups' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -l all -d 'Include uploads in progress and failed ones'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from verify" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from verify" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from verify" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from verify" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from verify" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from verify" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from verify" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from verify" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from delete" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from delete" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from delete" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from delete" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from delete" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from delete" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l to -d 'Restore under this absolute directory (must be empty unless --force)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -s s -l selector -d 'Label selector for the target hosts, e.g. \'role=web\' (\'id=web-1\' names a host)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l host -d 'Only these hosts, by agent id: comma-separated or repeated; combines with --selector (both must match)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l concurrency -l batch -d 'Hosts running at once: N or P% (default: all)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l max-errors -l max-failures -d 'Failures after which no new host starts: N or P%' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l delivery-timeout -l offline-timeout -d 'A host offline this long after its turn came is undeliverable' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l request-id -d 'Idempotency key: repeating a request with the same key returns the first job' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l in-place -d 'Restore to the original paths'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l force -d 'Restore into a non-empty --to directory'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l follow -d 'Print every host\'s output, prefixed by host, as it arrives; exit like --wait'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -l wait -d 'Block until the job ends; exit 0 only if every host succeeded'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from restore" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -s s -l selector -d 'Label selector for the target hosts, e.g. \'role=web\' (\'id=web-1\' names a host)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l host -d 'Only these hosts, by agent id: comma-separated or repeated; combines with --selector (both must match)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l concurrency -l batch -d 'Hosts running at once: N or P% (default: all)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l max-errors -l max-failures -d 'Failures after which no new host starts: N or P%' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l delivery-timeout -l offline-timeout -d 'A host offline this long after its turn came is undeliverable' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l request-id -d 'Idempotency key: repeating a request with the same key returns the first job' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l follow -d 'Print every host\'s output, prefixed by host, as it arrives; exit like --wait'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -l wait -d 'Block until the job ends; exit 0 only if every host succeeded'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from drill" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -f -a "add" -d 'Back up a set on a cron schedule, optionally with periodic drills'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -f -a "list" -d 'Every schedule: set, selector, cron, drills, last and next runs, last error'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -f -a "remove" -d 'Stop a schedule (admin role). Its backups stay'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from schedule" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "run" -d 'Back up a set on every matching host, as a job'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "list" -d 'Stored backups, newest first: id, host, set, time, size, files, sha256, verified, drilled'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Re-hash a stored archive on the coordinator; exit 1 if it does not match'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Remove a backup\'s record and files (admin; audited). Refused while it is younger than [backups] min_retention, the last complete one of its host and set, uploading, or read by an unfinished restore'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "restore" -d 'Put a backup back on a host: under --to DIR, or --in-place (never the default)'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "drill" -d 'Restore each matching host\'s latest backup of a set into a scratch dir there, check every file, and report; exit 1 unless every host passed'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "schedule" -d 'Backup schedules (cron, UTC)'
complete -c convoy -n "__fish_convoy_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -f -a "save" -d 'Save a snapshot of the coordinator\'s state (store, artifacts, backups) to FILE (tar.zst), streamed from the running coordinator (admin; audited)'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -f -a "restore" -d 'Restore a snapshot into an empty or new data dir (local: no coordinator). Refuses a corrupt, truncated or newer-format file and writes nothing then'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -f -a "drill" -d 'Restore a snapshot into a temp dir, open it with a scratch coordinator on loopback, check record counts and blob hashes against its header, and report; exits non-zero on any mismatch'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and not __fish_seen_subcommand_from save restore drill help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from save" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from save" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from save" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from save" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from save" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from save" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from save" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from save" -l no-blobs -d 'Leave the artifact and backup blobs out; the snapshot lists them (path, size, sha256) instead'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from save" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from save" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -l data-dir -d 'The data dir to create (must be empty or absent)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from drill" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from drill" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from drill" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from drill" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from drill" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from drill" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from drill" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from drill" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from drill" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "save" -d 'Save a snapshot of the coordinator\'s state (store, artifacts, backups) to FILE (tar.zst), streamed from the running coordinator (admin; audited)'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "restore" -d 'Restore a snapshot into an empty or new data dir (local: no coordinator). Refuses a corrupt, truncated or newer-format file and writes nothing then'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "drill" -d 'Restore a snapshot into a temp dir, open it with a scratch coordinator on loopback, check record counts and blob hashes against its header, and report; exits non-zero on any mismatch'
complete -c convoy -n "__fish_convoy_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -s s -l selector -d 'Aggregate over the hosts this label selector matches instead of one host' -r
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -l since -d 'How far back' -r
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -l step -d 'Width of one point (default: --since / 60)' -r
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -l agg -d 'Across hosts: avg, min, max, p50, p90, p95 or p99 of the hosts\' averages' -r
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand metrics" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand report; and not __fish_seen_subcommand_from capacity help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand report; and not __fish_seen_subcommand_from capacity help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand report; and not __fish_seen_subcommand_from capacity help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand report; and not __fish_seen_subcommand_from capacity help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand report; and not __fish_seen_subcommand_from capacity help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand report; and not __fish_seen_subcommand_from capacity help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand report; and not __fish_seen_subcommand_from capacity help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand report; and not __fish_seen_subcommand_from capacity help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand report; and not __fish_seen_subcommand_from capacity help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand report; and not __fish_seen_subcommand_from capacity help" -f -a "capacity" -d 'Capacity per group from the metrics history: cpu, mem, disk and load-per-core p50/p95, hosts hot (p95 > 80 %) and idle (p95 < 10 %), disk and mem growth with the days until 90 %, and the hosts each group needs to keep its p95 under --target'
complete -c convoy -n "__fish_convoy_using_subcommand report; and not __fish_seen_subcommand_from capacity help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -s s -l selector -d 'The hosts to report on (a label selector; default every host)' -r
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -l group-by -d 'One group per value of this label (default: the selector\'s hosts as one group)' -r
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -l since -d 'How far back (at most the history\'s keep_15m)' -r
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -l target -d 'Target p95 utilisation, as a fraction (0.6) or a percentage (60%)' -r
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from capacity" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from help" -f -a "capacity" -d 'Capacity per group from the metrics history: cpu, mem, disk and load-per-core p50/p95, hosts hot (p95 > 80 %) and idle (p95 < 10 %), disk and mem growth with the days until 90 %, and the hosts each group needs to keep its p95 under --target'
complete -c convoy -n "__fish_convoy_using_subcommand report; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand scale; and not __fish_seen_subcommand_from status help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand scale; and not __fish_seen_subcommand_from status help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand scale; and not __fish_seen_subcommand_from status help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand scale; and not __fish_seen_subcommand_from status help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand scale; and not __fish_seen_subcommand_from status help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand scale; and not __fish_seen_subcommand_from status help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand scale; and not __fish_seen_subcommand_from status help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand scale; and not __fish_seen_subcommand_from status help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand scale; and not __fish_seen_subcommand_from status help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand scale; and not __fish_seen_subcommand_from status help" -f -a "status" -d 'Every [[scaling]] policy: selector, metric, current value and count, desired count, last action (when, what, result), next allowed action, dry-run'
complete -c convoy -n "__fish_convoy_using_subcommand scale; and not __fish_seen_subcommand_from status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand scale; and __fish_seen_subcommand_from status" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand scale; and __fish_seen_subcommand_from status" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand scale; and __fish_seen_subcommand_from status" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand scale; and __fish_seen_subcommand_from status" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand scale; and __fish_seen_subcommand_from status" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand scale; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand scale; and __fish_seen_subcommand_from status" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand scale; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand scale; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand scale; and __fish_seen_subcommand_from help" -f -a "status" -d 'Every [[scaling]] policy: selector, metric, current value and count, desired count, last action (when, what, result), next allowed action, dry-run'
complete -c convoy -n "__fish_convoy_using_subcommand scale; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand alerts" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand alerts" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand alerts" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand alerts" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand alerts" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand alerts" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand alerts" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand alerts" -l pending -d 'Also alerts still waiting out their `for`'
complete -c convoy -n "__fish_convoy_using_subcommand alerts" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand alerts" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand events" -l kind -d 'Only kinds matching this: `rollout.*`, `agent.offline`' -r
complete -c convoy -n "__fish_convoy_using_subcommand events" -l since -d 'Only events this recent' -r
complete -c convoy -n "__fish_convoy_using_subcommand events" -l limit -d 'At most this many (the newest)' -r
complete -c convoy -n "__fish_convoy_using_subcommand events" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand events" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand events" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand events" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand events" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand events" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand events" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand events" -s f -l follow -d 'Keep printing events as they happen'
complete -c convoy -n "__fish_convoy_using_subcommand events" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand events" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -f -a "test" -d 'Send a test notification through a [[notify]] sink; exit 1 if it failed'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -f -a "log" -d 'Deliveries, newest first: event, sink, attempts, status'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and not __fish_seen_subcommand_from test log help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from test" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from test" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from test" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from test" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from test" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from test" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from test" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from test" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from log" -l limit -d 'Show at most this many deliveries' -r
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from log" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from log" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from log" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from log" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from log" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from log" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from log" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from log" -l failed -d 'Only deliveries given up'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from log" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from log" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "test" -d 'Send a test notification through a [[notify]] sink; exit 1 if it failed'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "log" -d 'Deliveries, newest first: event, sink, attempts, status'
complete -c convoy -n "__fish_convoy_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand ui" -l listen -d 'Where to serve the dashboard (loopback only unless --allow-remote)' -r
complete -c convoy -n "__fish_convoy_using_subcommand ui" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand ui" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ui" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ui" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand ui" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand ui" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand ui" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand ui" -l open -d 'Open the dashboard in the default browser (xdg-open) once it is listening'
complete -c convoy -n "__fish_convoy_using_subcommand ui" -l allow-remote -d 'Serve on a non-loopback address. Anyone who can reach it and has the printed URL acts with your certificate; the traffic is plain HTTP. Prefer an SSH tunnel'
complete -c convoy -n "__fish_convoy_using_subcommand ui" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand ui" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand completions" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand completions" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand completions" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand completions" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand completions" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand completions" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand completions" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand completions" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand completions" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand man" -l out -d 'Directory to write convoy.1 and one page per subcommand (convoy-serve.1, ...) into' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand man" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand man" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand man" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand man" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand man" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand man" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand man" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand man" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand man" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand demo" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand demo" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand demo" -l script -d 'Tell the story non-interactively: plain lines, every step checked, a summary, then clean up and exit (0 only if every check passed)'
complete -c convoy -n "__fish_convoy_using_subcommand demo" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand demo" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -f -a "start" -d 'Start the sample app in the background (a release\'s start hook)'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -f -a "stop" -d 'Stop the app named in the pid file (a release\'s stop hook)'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -f -a "serve" -d 'Serve HTTP in the foreground: GET /health answers 200, or 500 when broken'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and not __fish_seen_subcommand_from start stop serve help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -l port -d 'Local port to serve HTTP on' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -l pidfile -d 'Pid file of the running app (its log goes beside it)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -l app-version -d 'The version to report (set by the agent for hooks)' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -l broken -d 'Answer /health with 500: a release that fails its health check'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from stop" -l pidfile -d 'Pid file of the running app' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from stop" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from stop" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from stop" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from stop" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from stop" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from stop" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from stop" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from stop" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -l port -d 'Local port to serve HTTP on' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -l pidfile -d 'Pid file to write; the server exits when it no longer names it' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -l app-version -d 'The version to report' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -l addr -d 'Coordinator address' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -l ca -d 'Fleet CA certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -l cert -d 'Operator certificate (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -l key -d 'Operator private key (PEM)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -l timeout -d 'How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms)' -r
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -s o -l output -d 'Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and `convoy report` only)' -r -f -a "table\t''
json\t''
csv\t''
markdown\t''"
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -l broken -d 'Answer /health with 500'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from serve" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from help" -f -a "start" -d 'Start the sample app in the background (a release\'s start hook)'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from help" -f -a "stop" -d 'Stop the app named in the pid file (a release\'s stop hook)'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from help" -f -a "serve" -d 'Serve HTTP in the foreground: GET /health answers 200, or 500 when broken'
complete -c convoy -n "__fish_convoy_using_subcommand demo-app; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "serve" -d 'Run the coordinator'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "ca" -d 'Manage the fleet\'s certificate authority'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "cert" -d 'Issue certificates from the fleet CA, or revoke one on the coordinator'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "agents" -d 'List agents, or show one. (`--version` here filters by app version: APP=VERSION.)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "token" -d 'One-time enrollment tokens: `convoy token create|list|revoke`'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "certs" -d 'Certificates the coordinator knows: `convoy certs list`'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "whoami" -d 'Show who the coordinator thinks you are'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "exec" -d 'Run an allow-listed action on every matching host, as a job'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "agent" -d 'One host: cordon, uncordon, drain, remove, revoke'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "jobs" -d 'Recent jobs: id, action, targets, state counts, started, by whom'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "job" -d 'Inspect or cancel one job'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "audit" -d 'Who did what, when, with what result'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "release" -d 'Release artifacts: signing keys, upload, list, status across the fleet'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "deploy" -d 'Deploy a pushed release to every matching host, as a job'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "rollback" -d 'Return an app to each host\'s previous (or a named) kept release, as a job'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "rollout" -d 'Rolling releases in canary waves behind health and metric gates'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "env" -d 'Environments (`[[environments]]`): order, rules, windows and what runs where'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "freeze" -d 'Freezes: no rollout starts or starts new hosts in an environment meanwhile'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "backup" -d 'Backups: run, list, verify, restore, drill and schedule'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "snapshot" -d 'The coordinator\'s own state: save a snapshot, restore one into an empty data dir, drill one in a scratch coordinator'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "metrics" -d 'Metrics history of a host, or aggregated across hosts (--selector)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "report" -d 'Reports from the metrics history: `convoy report capacity`'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "scale" -d 'Scaling policies ([[scaling]] in coordinator.toml): `convoy scale status`'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "alerts" -d 'Alerts firing now: rule, host, since, value'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "events" -d 'The event log, in order; --follow streams it live'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "notify" -d 'Notifications: send a test, show deliveries'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "ui" -d 'The web dashboard on loopback: prints http://127.0.0.1:8470/?token=… and serves the fleet, hosts with metric plots, and live rollouts with their controls until Ctrl-C, acting with this operator\'s certificate'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish or powershell) to stdout'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "man" -d 'Write man pages for every command into a directory (packaging/generate-docs uses it)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "demo" -d 'A live local fleet with nothing set up: 5 agents, a canary rollout, a broken release rolled back by itself, a backup and a recovery drill; runs until Ctrl-C'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "demo-app" -d 'The demo\'s sample app (used by the demo\'s release hooks)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from serve ca cert agents token certs whoami exec agent jobs job audit release deploy rollback rollout env freeze backup snapshot metrics report scale alerts events notify ui completions man demo demo-app help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from ca" -f -a "init" -d 'Create a new fleet CA: DIR/ca.pem and DIR/ca.key (mode 0600)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from ca" -f -a "rotate" -d 'CA rotation on the running coordinator, in phases: start → advance (update_clients) → advance (update_servers) → finish; abort returns to the old CA'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from cert" -f -a "issue" -d 'Issue a certificate: writes OUT/NAME.pem and OUT/NAME.key (mode 0600)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from cert" -f -a "revoke" -d 'Revoke a certificate on the running coordinator: `--serial S` or every certificate of `--operator NAME`. Admin only; live sessions using it are cut within a second'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from agents" -f -a "show" -d 'One agent: facts, labels, latest metrics, metrics history, connection history'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "create" -d 'Create a token; it is printed once, with the CA fingerprint hosts pin'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "list" -d 'Tokens: id, labels, pattern, uses, expiry, state (the secrets are never shown again)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "revoke" -d 'Revoke a token by id: no enrollment succeeds with it from now on'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "list" -d 'Certificates the coordinator has seen, with serial, kind, name, expiry and state (active, expired, revoked), and the revocations by name'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "revoke" -d 'Revoke every certificate of an agent id: its live session is cut within a second and its reconnects are refused'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "cordon" -d 'No new jobs or rollouts go to the host (it keeps what it runs). Operator role'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "uncordon" -d 'Let new jobs and rollouts reach the host again. Operator role'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "drain" -d 'Cordon the host, then wait until none of its commands is still in flight'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "remove" -d 'Forget a host (its record and history). Refused while it is online unless --force, which ends its session first. Admin role; audited'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from job" -f -a "show" -d 'One job: per host state, exit code, duration and output tail'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from job" -f -a "output" -d 'One host\'s whole output for a job'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from job" -f -a "cancel" -d 'Cancel a job: pending hosts never start, running ones are stopped'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from release" -f -a "keygen" -d 'Create an ed25519 key pair for signing releases: OUT.key (0600) and OUT.pub'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from release" -f -a "push" -d 'Upload an artifact (tar.gz or tar.zst) as APP VERSION, optionally signed'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from release" -f -a "show" -d 'One release: notes, metadata, signer, sha256, size, pushed by/at, and the rollouts that deployed it'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from release" -f -a "list" -d 'Releases of an app (all apps if omitted): version, size, sha256, signer, pushed at'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from release" -f -a "status" -d 'Which hosts run which version of APP, healthy or not'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from release" -f -a "delete" -d 'Forget APP VERSION and remove its artifact (admin; audited). Refused, naming them, while a host runs it, a deploy job sends it or an active rollout uses it'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "start" -d 'Roll APP out to VERSION on every matching host, in canary waves behind gates'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "list" -d 'Rollouts of every app, newest first'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "status" -d 'One rollout: waves, hosts per wave with state, gates, failures against the budget, and what it waits for'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "watch" -d 'Live progress per wave until the rollout ends; exits 0 only if it succeeded, 3 if it stops to wait for an operator (paused or awaiting promotion)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "pause" -d 'Start no new hosts; those in flight finish'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "resume" -d 'Continue a paused rollout (after a failure pause, the failures so far are accepted)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "promote" -d 'Let a rollout go on past its canary wave'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "abort" -d 'Stop for good: no new hosts, nothing reverted. Always wins'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "rollback" -d 'Return every host the rollout moved to its previous version, in waves. Works from any state but rolling_back/rolled_back, including aborted and failed'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "report" -d 'The post-deployment report: timeline (planned against actual per wave, waits, who did what), each host\'s outcome, failures against the budget, the rollback, metric deltas of the updated hosts (hour before against after, with significance) and the canary verdicts. Stored when the rollout ends; computed now for one still going. -o markdown fits a pull-request comment; -o json is a stable shape'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "approve" -d 'Approve a rollout awaiting approval (you must not be the operator who started it; the environment may ask for a role). Who approves is your certificate\'s name'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "unapprove" -d 'Withdraw your approval of a rollout (the same as `approve --withdraw`)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from rollout" -f -a "history" -d 'Past rollouts of an app and their outcome'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "list" -d 'Environments in order, with their rules, window and the versions running there'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from freeze" -f -a "add" -d 'Freeze ENV from --from (default now) until --until: rollouts there neither start nor start new hosts (rollbacks still run). Operator role; audited'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from freeze" -f -a "list" -d 'Every freeze, past ones included, by start'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from freeze" -f -a "remove" -d 'Remove a freeze (`f-...`)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "run" -d 'Back up a set on every matching host, as a job'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "list" -d 'Stored backups, newest first: id, host, set, time, size, files, sha256, verified, drilled'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "verify" -d 'Re-hash a stored archive on the coordinator; exit 1 if it does not match'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "delete" -d 'Remove a backup\'s record and files (admin; audited). Refused while it is younger than [backups] min_retention, the last complete one of its host and set, uploading, or read by an unfinished restore'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "restore" -d 'Put a backup back on a host: under --to DIR, or --in-place (never the default)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "drill" -d 'Restore each matching host\'s latest backup of a set into a scratch dir there, check every file, and report; exit 1 unless every host passed'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "schedule" -d 'Backup schedules (cron, UTC)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "save" -d 'Save a snapshot of the coordinator\'s state (store, artifacts, backups) to FILE (tar.zst), streamed from the running coordinator (admin; audited)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "restore" -d 'Restore a snapshot into an empty or new data dir (local: no coordinator). Refuses a corrupt, truncated or newer-format file and writes nothing then'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "drill" -d 'Restore a snapshot into a temp dir, open it with a scratch coordinator on loopback, check record counts and blob hashes against its header, and report; exits non-zero on any mismatch'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from report" -f -a "capacity" -d 'Capacity per group from the metrics history: cpu, mem, disk and load-per-core p50/p95, hosts hot (p95 > 80 %) and idle (p95 < 10 %), disk and mem growth with the days until 90 %, and the hosts each group needs to keep its p95 under --target'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from scale" -f -a "status" -d 'Every [[scaling]] policy: selector, metric, current value and count, desired count, last action (when, what, result), next allowed action, dry-run'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "test" -d 'Send a test notification through a [[notify]] sink; exit 1 if it failed'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "log" -d 'Deliveries, newest first: event, sink, attempts, status'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from demo-app" -f -a "start" -d 'Start the sample app in the background (a release\'s start hook)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from demo-app" -f -a "stop" -d 'Stop the app named in the pid file (a release\'s stop hook)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from demo-app" -f -a "serve" -d 'Serve HTTP in the foreground: GET /health answers 200, or 500 when broken'
