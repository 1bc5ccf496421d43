from nfpo.cli import main

main()
