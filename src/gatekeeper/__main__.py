from gatekeeper.cli.app import main

main()
