import HalfStepCore

extension TrainingConfig {
    /// The config block of a plan: the optimizer and loss-scale choices of `options`, the rows per
    /// (micro-)batch, and the tensors the trainer's caller fills and reads.
    init(_ options: PlanOptions, rows: Int, microBatches: Int, input: Int, labels: Int, logits: Int, loss: Int,
         classes: Int, features: Int) {
        self.init()
        optimizerRaw = options.optimizer.rawValue
        stateDTypeRaw = options.effectiveStateType.rawValue
        accumulate = options.accumulateHalf ? 1 : 0
        batch = UInt16(rows)
        microBatchesRaw = microBatches > 1 ? UInt16(microBatches) : 0
        learningRate = options.learningRate
        momentum = options.effectiveMomentum
        weightDecay = options.weightDecay
        beta2 = options.beta2
        epsilon = options.epsilon
        switch options.lossScale {
        case .none:
            lossScaleModeRaw = LossScaleMode.none.rawValue
            initialLossScale = 1
        case .fixed(let s):
            lossScaleModeRaw = LossScaleMode.fixed.rawValue
            initialLossScale = s
        case .dynamic(let initial, let interval):
            lossScaleModeRaw = LossScaleMode.dynamic.rawValue
            initialLossScale = initial
            growthInterval = UInt32(max(1, interval))
        }
        inputTensor = UInt16(input)
        labelsTensor = UInt16(labels)
        logitsTensor = UInt16(logits)
        lossTensor = UInt16(loss)
        self.classes = UInt32(classes)
        seed = options.seed
        inputFeatures = UInt32(features)
        lossKindRaw = options.loss.kind.rawValue
        if case .huber(let d) = options.loss { huberDelta = d }
        switch options.schedule {
        case .constant: break
        case .step(let every, let gamma):
            scheduleRaw = ScheduleKind.step.rawValue
            scheduleSteps = UInt32(every)
            scheduleFactor = gamma
        case .cosine(let steps, let minimum):
            scheduleRaw = ScheduleKind.cosine.rawValue
            scheduleSteps = UInt32(steps)
            scheduleFactor = minimum
        }
        warmupSteps = UInt32(options.warmupSteps)
        clipGradNorm = options.clipGradNorm ?? 0
    }
}
