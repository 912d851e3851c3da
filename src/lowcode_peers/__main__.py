from lowcode_peers.server import main

main()
