import ArgumentParser
struct CheckpointCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "checkpoint")
}
