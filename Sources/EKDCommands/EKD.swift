import ArgumentParser

/// The `ekd` command line: one subcommand per job.
public struct EKD: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "ekd",
    abstract: "Train, evaluate and benchmark small 3D hand-pose networks with Explicit Knowledge Distillation.",
    subcommands: [CheckpointCommand.self]
  )
  public init() {}
}
