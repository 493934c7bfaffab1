from sweepnn.cli import main

main()
