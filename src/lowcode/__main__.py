from lowcode.cli import main

main()
