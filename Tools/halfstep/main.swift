print("halfstep: being assembled")
