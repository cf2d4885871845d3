import EKDCommands

EKD.runMain()
