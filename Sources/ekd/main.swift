import EKDCommands

EKD.main()
