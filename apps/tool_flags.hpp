#pragma once
// Flag handling shared by stars-train, stars-eval and stars-generate, so that the same
// flag means the same thing in each: parse errors with the tools' prefix and exit code 2,
// the nearest flag for a misspelt one, every default in --help, and the common flags.
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "stars/config/errors.hpp"
#include "stars/model/token_exit.hpp"
#include "stars/util/cli.hpp"

namespace stars::tool {

/// Call before adding options: --help then shows each option's default.
inline void show_defaults(CLI::App& app) {
  app.option_defaults()->always_capture_default();
}

/// The long names of `app`'s options, without their dashes.
inline std::vector<std::string> long_flags(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* opt : app.get_options())
    for (const auto& name : opt->get_lnames()) out.push_back(name);
  return out;
}

/// " (did you mean --depths?)" for the first unexpected --flag in `extras`, or "".
inline std::string flag_suggestion(const CLI::App& app, const std::vector<std::string>& extras) {
  for (std::string arg : extras) {
    if (arg.rfind("--", 0) != 0) continue;
    arg = arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
    const std::string near = nearest_name(arg, long_flags(app));
    if (!near.empty()) return " (did you mean --" + near + "?)";
  }
  return "";
}

/// Parses the command line. Returns the exit code when the tool should stop now (0 after
/// --help; 2 after a parse error, reported as "PROGRAM: error: ..." on stderr), else nullopt.
inline std::optional<int> parse_flags(CLI::App& app, const std::string& program, int argc,
                                      char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << program << ": error: " << e.what() << flag_suggestion(app, app.remaining()) << "; "
              << program << " --help lists every flag\n";
    return kExitUsage;
  }
}

/// --quiet: the same in every tool: log only warnings and errors, print only the results.
inline void add_quiet_flag(CLI::App& app, bool& quiet) {
  app.add_flag("--quiet", quiet,
               "log only warnings and errors on stderr; print only the results on stdout");
}

/// Applies --quiet; call inside run_cli's body (its logger exists from then on).
inline void apply_quiet(bool quiet) {
  if (quiet) spdlog::set_level(spdlog::level::warn);
}

/// --seed: a seed of generated problems or of sampling draws, 0 to 2^31 - 1 in every tool.
template <typename T>
CLI::Option* add_seed_option(CLI::App& app, T& seed, const std::string& what) {
  return app.add_option("--seed", seed, what)->check(CLI::Range(0, 2147483647));
}

/// --exit-tol: adaptive exit by the relative residual, a number >= 0 (0: off), in every tool.
inline CLI::Option* add_exit_tol_option(CLI::App& app, double& tol) {
  return app
      .add_option("--exit-tol", tol,
                  "adaptive exit: stop looping once the relative residual < tol (0: off)")
      ->check(CLI::Validator(
          [](std::string& text) {
            char* end = nullptr;
            const double value = std::strtod(text.c_str(), &end);
            const bool number = !text.empty() && end == text.c_str() + text.size();
            return number && value >= 0 ? std::string()
                                        : "must be a number >= 0 (0: off), got " + text;
          },
          "TOL >= 0"));
}

/// --exit: per-token adaptive exit (stars/model/token_exit.hpp), checked as it is parsed;
/// not together with --exit-tol.
inline CLI::Option* add_token_exit_option(CLI::App& app, std::string& spec, CLI::Option* exit_tol) {
  return app
      .add_option("--exit", spec,
                  "per-token exit: residual:TOL, kl:TOL, entropy:TOL, gate:P (the exit gate's "
                  "cumulative probability) or expected (gate-weighted logits of every loop)")
      ->check(CLI::Validator(
          [](std::string& text) {
            try {
              stars::parse_token_exit(text, "--exit");
              return std::string();
            } catch (const stars::ConfigError& e) {
              return std::string(e.what()).substr(std::string("--exit: ").size());
            }
          },
          "RULE"))
      ->excludes(exit_tol);
}

}  // namespace stars::tool
