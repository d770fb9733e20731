from entrypoint.launch import main

main()
