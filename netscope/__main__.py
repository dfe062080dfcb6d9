from netscope.cli import main

raise SystemExit(main())
