import ArgumentParser
import Foundation

/// The `ekd` command line: one subcommand per job.
public struct EKD: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "ekd",
    abstract: "Train, evaluate and benchmark small 3D hand-pose networks with Explicit Knowledge Distillation.",
    subcommands: [
      TrainCommand.self, EvalCommand.self, PredictCommand.self, ExportCommand.self, AblationCommand.self, ReferenceCommand.self, SynthCommand.self, BoundsCommand.self, AnglesCommand.self,
      InfoCommand.self,
      DataCommand.self,
      CheckpointCommand.self,
    ]
  )
  public init() {}

  /// Runs the command line; a `CommandFailure` becomes one stderr line and exit code 2.
  public static func runMain(_ arguments: [String]? = nil) -> Never {
    do {
      var command = try parseAsRoot(arguments)
      try command.run()
      Foundation.exit(0)
    } catch let failure as CommandFailure {
      FileHandle.standardError.write(Data(("ekd: " + failure.description + "\n").utf8))
      Foundation.exit(2)
    } catch {
      // Help and version requests exit 0 as argument-parser prints them; a bad
      // option is bad input like any other: one `ekd:` line and exit code 2.
      guard exitCode(for: error) != .success else { exit(withError: error) }
      let message = message(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
      FileHandle.standardError.write(Data(("ekd: " + message + "\n").utf8))
      Foundation.exit(2)
    }
  }
}
