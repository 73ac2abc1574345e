# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_convoy_agent_global_optspecs
    string join \n log-format= h/help V/version
end

function __fish_convoy_agent_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_convoy_agent_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_convoy_agent_using_subcommand
    set -l cmd (__fish_convoy_agent_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c convoy-agent -n "__fish_convoy_agent_needs_command" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy-agent -n "__fish_convoy_agent_needs_command" -s h -l help -d 'Print help'
complete -c convoy-agent -n "__fish_convoy_agent_needs_command" -s V -l version -d 'Print version'
complete -c convoy-agent -n "__fish_convoy_agent_needs_command" -f -a "run" -d 'Run the agent service'
complete -c convoy-agent -n "__fish_convoy_agent_needs_command" -f -a "check" -d 'Check a config file without running: read every file it names and print what it means; exit 1 on any error'
complete -c convoy-agent -n "__fish_convoy_agent_needs_command" -f -a "enroll" -d 'Enroll this host with a one-time token: a key made here (0600), a CSR sent, the certificate and CA written where the config\'s [tls] says'
complete -c convoy-agent -n "__fish_convoy_agent_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish or powershell) to stdout'
complete -c convoy-agent -n "__fish_convoy_agent_needs_command" -f -a "man" -d 'Write man pages for every command into a directory (packaging/generate-docs uses it)'
complete -c convoy-agent -n "__fish_convoy_agent_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand run" -s c -l config -d 'Path to agent.toml' -r -F
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand run" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand run" -s h -l help -d 'Print help'
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand check" -s c -l config -d 'Path to agent.toml' -r -F
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand check" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand check" -s h -l help -d 'Print help'
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand enroll" -l coordinator -d 'The coordinator, e.g. https://coord:7443 (default: the config\'s `coordinator`)' -r
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand enroll" -l ca-fingerprint -d 'sha256:HEX of the fleet CA certificate, as `convoy token create` prints it' -r
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand enroll" -l token -d 'The token, as `convoy token create` printed it' -r
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand enroll" -l id -d 'The agent id to enroll as (default: this host\'s name)' -r
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand enroll" -s c -l config -d 'Path to agent.toml ([tls] says where the key, certificate and CA go)' -r -F
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand enroll" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand enroll" -s h -l help -d 'Print help'
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand completions" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand completions" -s h -l help -d 'Print help'
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand man" -l out -d 'Directory to write convoy-agent.1 and one page per subcommand into' -r -F
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand man" -l log-format -d 'Log format (logs go to stderr; RUST_LOG filters them)' -r -f -a "text\t''
json\t''"
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand man" -s h -l help -d 'Print help'
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand help; and not __fish_seen_subcommand_from run check enroll completions man help" -f -a "run" -d 'Run the agent service'
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand help; and not __fish_seen_subcommand_from run check enroll completions man help" -f -a "check" -d 'Check a config file without running: read every file it names and print what it means; exit 1 on any error'
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand help; and not __fish_seen_subcommand_from run check enroll completions man help" -f -a "enroll" -d 'Enroll this host with a one-time token: a key made here (0600), a CSR sent, the certificate and CA written where the config\'s [tls] says'
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand help; and not __fish_seen_subcommand_from run check enroll completions man help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish or powershell) to stdout'
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand help; and not __fish_seen_subcommand_from run check enroll completions man help" -f -a "man" -d 'Write man pages for every command into a directory (packaging/generate-docs uses it)'
complete -c convoy-agent -n "__fish_convoy_agent_using_subcommand help; and not __fish_seen_subcommand_from run check enroll completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
