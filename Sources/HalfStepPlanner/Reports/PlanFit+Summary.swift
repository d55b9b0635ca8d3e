extension PlanFit {
    /// A budget as `plan --fit` names it, e.g. `sram=64.0 KiB,flash=1.00 MiB` (bytes in; absent
    /// budgets left out).
    public static func budgetLabel(sram: Int?, flash: Int?) -> String {
        [sram.map { "sram=\(formatBytes($0))" }, flash.map { "flash=\(formatBytes($0))" }].compactMap { $0 }.joined(separator: ",")
    }
}

extension PlanFit.Result {
    /// The lines `plan --fit` prints above the plan's summary (`PlanSummary.fit`): the choice for
    /// the budget (bytes) with what it trains and needs, then the search's reasons. nil when
    /// nothing fits.
    public func summaryLines(sramBudget: Int?, flashBudget: Int?) -> [String]? {
        guard let best else { return nil }
        let budget = PlanFit.budgetLabel(sram: sramBudget, flash: flashBudget)
        return ["chose \(best.flags) for \(budget): trains \(best.trainedElements) parameter elements in \(best.arenaBytes) B SRAM, \(best.flashBytes) B flash"] + reasons
    }

    /// Why no plan fits the budget (bytes): the smallest plan that trains anything, what it needs,
    /// and the levers tried (the search's first reason). Two lines.
    public func noFitExplanation(sramBudget: Int?, flashBudget: Int?) -> String {
        var message = "no plan fits \(PlanFit.budgetLabel(sram: sramBudget, flash: flashBudget))"
        if let s = smallest {
            message += "; the smallest that trains anything (\(s.flags)) needs sram=\(s.arenaBytes) B (\(formatBytes(s.arenaBytes))), flash=\(s.flashBytes) B (\(formatBytes(s.flashBytes)))"
        }
        message += "\n  levers tried: " + (reasons.first ?? "").replacingOccurrences(of: "measured ", with: "")
        return message
    }
}
